import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { createSend } from "../../api/endpoints";
import { errorMessage } from "../../api/errors";
import type { Send, Template } from "../../api/types";
import { Dialog, DialogActions } from "../../components/Dialog";
import { paramHint, paramLabel, placeholders } from "./sendText";

interface NewSendDialogProps {
  templates: readonly Template[];
  onClose: () => void;
  onCreated: (send: Pick<Send, "id" | "status" | "pair">) => void;
}

export function NewSendDialog({ templates, onClose, onCreated }: NewSendDialogProps) {
  const [phone, setPhone] = useState("");
  const [templateId, setTemplateId] = useState(templates[0]?.id ?? "");
  const [text, setText] = useState("");
  const [params, setParams] = useState<Record<string, string>>({});
  const template = templates.find((t) => t.id === templateId);
  const names = placeholders(template);
  const creation = useMutation({ mutationFn: createSend, onSuccess: onCreated });
  const busy = creation.isPending;
  const error = creation.error === null ? null : errorMessage(creation.error);
  const submit = () =>
    creation.mutate(
      templateId
        ? { phone: phone.trim(), template_id: templateId, params: Object.fromEntries(names.map((n) => [n, params[n] ?? ""])) }
        : { phone: phone.trim(), text },
    );
  return (
    <Dialog
      title="Send an SMS now"
      onClose={onClose}
      testId="new-send-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          submitLabel="Send"
          onSubmit={submit}
          disabled={busy || phone.trim() === "" || (!templateId && text.trim() === "")}
          testId="new-send-submit"
        />
      }
    >
      <div className="form-grid">
        <label className="field__label" htmlFor="send-phone">
          Phone (+country code…)
        </label>
        <input id="send-phone" className="input" value={phone} onChange={(e) => setPhone(e.target.value)} data-testid="send-phone" />
        <label className="field__label" htmlFor="send-template">
          Template
        </label>
        <select id="send-template" className="input" value={templateId} onChange={(e) => setTemplateId(e.target.value)} data-testid="send-template">
          <option value="">No template: my own text</option>
          {templates.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name} ({t.id})
            </option>
          ))}
        </select>
        {templateId ? (
          <>
            {template && (
              <div className="form-grid__full field">
                <span className="field__label">Template text</span>
                <p className="send-template-text mono" data-testid="send-template-text">
                  {template.body}
                </p>
                {names.length === 0 && <p className="field__hint">It takes no values.</p>}
              </div>
            )}
            {names.map((name) => (
              <div key={name} className="form-grid__full field">
                <label className="field__label" htmlFor={`send-param-${name}`}>
                  {paramLabel(name)}
                </label>
                <input
                  id={`send-param-${name}`}
                  className="input"
                  maxLength={200}
                  value={params[name] ?? ""}
                  onChange={(e) => setParams({ ...params, [name]: e.target.value })}
                  aria-describedby={`send-param-${name}-hint`}
                  data-testid={`send-param-${name}`}
                />
                <p className="field__hint" id={`send-param-${name}-hint`} data-testid={`send-param-${name}-hint`}>
                  {paramHint(name)}
                </p>
              </div>
            ))}
          </>
        ) : (
          <label className="form-grid__full">
            <span className="field__label">Text</span>
            <textarea className="input" rows={3} maxLength={1600} value={text} onChange={(e) => setText(e.target.value)} data-testid="send-text" />
          </label>
        )}
      </div>
      <p className="muted">It goes out through the dispatcher, within the country's cap, trying the pair's programs in order.</p>
      {error && (
        <p className="field__error" role="alert" data-testid="new-send-error">
          {error}
        </p>
      )}
    </Dialog>
  );
}
