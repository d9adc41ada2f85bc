/** A template's values as a person reads them: `token = 123456, name = Ali`. */
export function templateValues(params: Record<string, string>): string {
  const pairs = Object.entries(params).map(([name, value]) => `${name} = ${value}`);
  return pairs.length > 0 ? pairs.join(", ") : "—";
}
