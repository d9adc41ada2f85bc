import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { sendTestMessage } from "../../api/endpoints";
import { errorMessage } from "../../api/errors";
import { Dialog, DialogActions } from "../../components/Dialog";

interface TestMessageDialogProps {
  onClose: () => void;
  onSent: (message: string) => void;
}

export function TestMessageDialog({ onClose, onSent }: TestMessageDialogProps) {
  const [text, setText] = useState("Test message from the smsfleet dashboard");
  const send = useMutation({
    mutationFn: () => sendTestMessage(text.trim()),
    onSuccess: (result) => onSent(`Telegram: ${result.message}.`),
  });
  return (
    <Dialog
      title="Send a message to Telegram"
      onClose={onClose}
      testId="test-message-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          submitLabel="Send now"
          onSubmit={() => send.mutate()}
          disabled={send.isPending || text.trim() === ""}
          testId="test-message-send"
        />
      }
    >
      <label className="field__label" htmlFor="test-message-text">
        Message (goes to every configured chat)
      </label>
      <textarea
        id="test-message-text"
        className="input"
        rows={4}
        maxLength={3500}
        value={text}
        onChange={(event) => setText(event.target.value)}
        data-testid="test-message-text"
      />
      {send.error && (
        <p className="field__error" role="alert" data-testid="test-message-error">
          {errorMessage(send.error)}
        </p>
      )}
    </Dialog>
  );
}
