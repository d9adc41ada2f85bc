import { Fragment } from "react";

/** Characters after which an identifier may wrap: "program3_UZ_beeline" → "program3_|UZ_|beeline". */
const SEPARATOR = /([_\-./:@])/;

/** The pieces of an identifier, each ending at a separator (the last one maybe not). */
export function identifierParts(value: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (const piece of value.split(SEPARATOR)) {
    current += piece;
    if (SEPARATOR.test(piece)) {
      parts.push(current);
      current = "";
    }
  }
  if (current !== "" || parts.length === 0) parts.push(current);
  return parts;
}

interface IdentifierProps {
  value: string;
  /** "code" for a code-styled identifier; a plain span by default. */
  as?: "span" | "code";
  className?: string;
  testId?: string;
}

/** A session name, pair key or rule id in a table cell: it wraps only after its separators
 * ("_", "-", ".", "/", ":", "@") and only when it does not fit on its line, never mid-token
 * where there is room. A token longer than the whole column still breaks, not to overflow. */
export function Identifier({ value, as: Tag = "span", className, testId }: IdentifierProps) {
  const parts = identifierParts(value);
  return (
    <Tag className={className ? `identifier ${className}` : "identifier"} data-testid={testId}>
      {parts.map((part, index) => (
        <Fragment key={index}>
          {part}
          {index < parts.length - 1 && <wbr />}
        </Fragment>
      ))}
    </Tag>
  );
}
