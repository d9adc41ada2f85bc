import { useEffect, useRef, type ReactNode } from "react";

interface DialogProps {
  title: string;
  onClose: () => void;
  children: ReactNode;
  footer: ReactNode;
  testId: string;
  wide?: boolean;
}

/** A modal built on <dialog>, which gives focus trapping and Escape for free. */
export function Dialog({ title, onClose, children, footer, testId, wide = false }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);

  return (
    <dialog
      ref={ref}
      className={wide ? "dialog dialog--wide" : "dialog"}
      aria-labelledby={`${testId}-title`}
      data-testid={testId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <header className="dialog__header">
        <h2 id={`${testId}-title`}>{title}</h2>
        <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      <div className="dialog__body">{children}</div>
      <footer className="dialog__footer">{footer}</footer>
    </dialog>
  );
}

interface DialogActionsProps {
  onCancel: () => void;
  submitLabel: string;
  onSubmit: () => void;
  disabled?: boolean;
  testId: string;
}

/** A dialog's footer: Cancel, and its one primary action. */
export function DialogActions({ onCancel, submitLabel, onSubmit, disabled = false, testId }: DialogActionsProps) {
  return (
    <>
      <button type="button" className="button" onClick={onCancel}>
        Cancel
      </button>
      <button type="button" className="button button--primary" disabled={disabled} onClick={onSubmit} data-testid={testId}>
        {submitLabel}
      </button>
    </>
  );
}
