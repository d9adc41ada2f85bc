import type { ReactNode } from "react";

interface FieldProps {
  id: string;
  label: string;
  error?: string | undefined;
  hint?: string;
  children: ReactNode;
}

/** A labelled form control with its hint and validation message underneath. */
export function Field({ id, label, error, hint, children }: FieldProps) {
  return (
    <div className={error ? "field field--invalid" : "field"}>
      <label htmlFor={id} className="field__label">
        {label}
      </label>
      {children}
      {hint && !error && <p className="field__hint">{hint}</p>}
      {error && (
        <p className="field__error" role="alert" data-testid={`error-${id}`}>
          {error}
        </p>
      )}
    </div>
  );
}
