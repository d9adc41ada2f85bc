import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState, type SubmitEvent } from "react";
import { createPair, updatePair } from "../../api/endpoints";
import { ApiError, errorMessage } from "../../api/errors";
import { type Country, type Host, type Pair, type PairState, type Program } from "../../api/types";
import { Dialog } from "../../components/Dialog";
import { Field } from "../../components/Field";
import { policySettingsQuery } from "../../data/queries";
import { sessionsQuery } from "../../data/sessions";
import {
  addedPrograms,
  emptyForm,
  formFromPair,
  hasErrors,
  inFormWords,
  noProgramWarning,
  programsStopped,
  serverErrorsToForm,
  SETTABLE_STATES,
  stopWarning,
  toCreatePayload,
  toUpdatePayload,
  startSessionsLabel,
  validateForm,
  type PairFormErrors,
  type PairFormValues,
} from "./pairForm";

interface PairFormDialogProps {
  /** The pair to edit; absent to add a new one. */
  pair?: Pair | undefined;
  countries: readonly Country[];
  programs: readonly Program[];
  /** Where sessions can run; the host field shows only when there is a choice. */
  hosts: readonly Host[];
  /** Admins only mark a pair high priority or take the mark off. */
  mayChangeHighPriority: boolean;
  onSaved: (pair: Pair, isNew: boolean) => void;
  onClose: () => void;
}

export function PairFormDialog({
  pair,
  countries,
  programs,
  hosts,
  mayChangeHighPriority,
  onSaved,
  onClose,
}: PairFormDialogProps) {
  const isNew = pair === undefined;
  const [values, setValues] = useState<PairFormValues>(() => (pair ? formFromPair(pair) : emptyForm()));
  const [errors, setErrors] = useState<PairFormErrors>({});
  // Set when the server answered 409 force_required: the user must confirm.
  const [forceMessage, setForceMessage] = useState<string | null>(null);
  const [forceConfirmed, setForceConfirmed] = useState(false);
  // Below the form, out of view in a tall one: brought into view when it appears.
  const forceWarning = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (forceMessage) forceWarning.current?.scrollIntoView({ block: "nearest" });
  }, [forceMessage]);
  // An edit that takes programs off stops their sessions: which run is asked of the server
  // (while unknown, every program taken off counts).
  const sessions = useQuery({ ...sessionsQuery(), enabled: !isNew });
  const policy = useQuery(policySettingsQuery());
  // "empty: the global 0.5", once known: an empty field says what the pair goes by.
  const globalHint = (value: number | undefined) => `0–1; empty: the global ${value ?? "default"}.`;
  // The programs whose stop was confirmed: a different set asks again.
  const [stopConfirmedFor, setStopConfirmedFor] = useState<string | null>(null);

  const set = <K extends keyof PairFormValues>(key: K, value: PairFormValues[K]) => {
    setValues((current) => ({ ...current, [key]: value }));
    setErrors((current) => ({ ...current, [key]: undefined, form: undefined }));
  };

  const save = async (force: boolean): Promise<Pair | null> => {
    if (isNew) return createPair(toCreatePayload(values));
    const changes = toUpdatePayload(values, pair);
    if (Object.keys(changes).length === 0) return null;
    return updatePair(pair.key, changes, force);
  };

  const saving = useMutation({
    mutationFn: save,
    onSuccess: (saved) => {
      if (saved === null) onClose();
      else onSaved(saved, isNew);
    },
    onError: (error) => {
      if (error instanceof ApiError && error.code === "force_required") {
        setForceMessage(error.message);
        setForceConfirmed(false);
      } else if (error instanceof ApiError && error.status === 422) {
        setErrors(serverErrorsToForm(error.fieldErrors, error.message, values.phoneNumbers));
      } else {
        setErrors({ form: errorMessage(error) });
      }
    },
  });
  // Stays set after a success too, while the page closes the dialog.
  const busy = saving.isPending || saving.isSuccess;

  const stopping = programsStopped(values, pair, sessions.data);
  const blockedByStop = stopping.length > 0 && stopConfirmedFor !== stopping.join(",");

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    if (blockedByStop) return;
    const clientErrors = validateForm(values, isNew);
    setErrors(clientErrors);
    if (hasErrors(clientErrors)) return;
    saving.mutate(forceMessage !== null && forceConfirmed);
  };

  const blockedByForce = forceMessage !== null && !forceConfirmed;
  const added = addedPrograms(values, pair);
  const noProgram = noProgramWarning(values, isNew);
  // A high-priority pair's sessions run from the start whatever the box says.
  const startSessions = values.startSessions || values.isHighPriority;
  const formId = "pair-form";
  return (
    <Dialog
      title={isNew ? "Add country-operator pair" : `Edit ${pair.key}`}
      onClose={onClose}
      testId="pair-dialog"
      wide
      footer={
        <>
          <button type="button" className="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button
            type="submit"
            form={formId}
            className="button button--primary"
            disabled={busy || blockedByForce || blockedByStop}
            data-testid="pair-save"
          >
            {busy ? "Saving…" : forceMessage ? "Save anyway" : isNew ? "Add pair" : "Save changes"}
          </button>
        </>
      }
    >
      <form id={formId} className="form-grid" onSubmit={submit} noValidate>
        <Field id="pair-country" label="Country" error={errors.country}>
          <select
            id="pair-country"
            className="input"
            value={values.country}
            disabled={!isNew}
            onChange={(event) => set("country", event.target.value)}
            data-testid="pair-country"
          >
            <option value="">Choose a country…</option>
            {countries.map((country) => (
              <option key={country.code} value={country.code}>
                {country.name} ({country.code})
              </option>
            ))}
          </select>
        </Field>
        <Field id="pair-operator" label="Operator" error={errors.operator}>
          <input
            id="pair-operator"
            className="input"
            value={values.operator}
            maxLength={64}
            onChange={(event) => set("operator", event.target.value)}
            data-testid="pair-operator"
          />
        </Field>
        <Field
          id="pair-slug"
          label="Slug"
          error={errors.slug}
          hint={isNew ? "Optional: derived from the operator name when empty." : "The key cannot change."}
        >
          <input
            id="pair-slug"
            className="input mono"
            value={values.slug}
            disabled={!isNew}
            placeholder="e.g. uzmobile"
            onChange={(event) => set("slug", event.target.value)}
            data-testid="pair-slug"
          />
        </Field>
        <Field id="pair-region" label="Region" error={errors.region} hint="Optional, e.g. West Bengal.">
          <input
            id="pair-region"
            className="input"
            value={values.region}
            maxLength={64}
            onChange={(event) => set("region", event.target.value)}
            data-testid="pair-region"
          />
        </Field>
        {(hosts.length > 1 || values.host !== "local") && (
          <Field
            id="pair-host"
            label="Host"
            error={errors.host}
            hint={isNew ? "Where its sessions run." : "Running sessions move: stopped there, started here."}
          >
            <select
              id="pair-host"
              className="input"
              value={values.host}
              onChange={(event) => set("host", event.target.value)}
              data-testid="pair-host"
            >
              {hostChoices(hosts, values.host).map((host) => (
                <option key={host.name} value={host.name}>
                  {host.name === "local" ? "local (this host)" : `${host.name} · ${host.address ?? "address hidden"}`}
                  {host.reachable === false ? " · unreachable" : ""}
                </option>
              ))}
            </select>
          </Field>
        )}
        <div className="form-grid__full">
          <label className="checkbox">
            <input
              type="checkbox"
              checked={values.isHighPriority}
              onChange={(event) => set("isHighPriority", event.target.checked)}
              disabled={!mayChangeHighPriority}
              data-testid="pair-high-priority"
            />
            High priority: never paused automatically; deleting or disabling it needs an admin.
            {!mayChangeHighPriority && " Only an admin marks a pair high priority or takes the mark off."}
          </label>
          {errors.isHighPriority && <p className="field__error">{errors.isHighPriority}</p>}
        </div>
        {!isNew && <StateFields values={values} errors={errors} set={set} />}
        <div className="form-grid__full">
          <Field
            id="pair-phones"
            label="Test phone numbers"
            error={errors.phoneNumbers}
            hint="One per line, international (+998…) or national format."
          >
            <textarea
              id="pair-phones"
              className="input mono"
              rows={4}
              value={values.phoneNumbers}
              onChange={(event) => set("phoneNumbers", event.target.value)}
              data-testid="pair-phones"
            />
          </Field>
        </div>
        <div className="form-grid__full">
          <ProgramPicker
            programs={programs}
            selected={values.programs}
            error={errors.programs}
            onChange={(selected) => set("programs", selected)}
          />
          {noProgram && (
            <p className="banner banner--warning" role="alert" data-testid="no-program-warning">
              {noProgram}
            </p>
          )}
          {added.length > 0 && (
            <label className="checkbox">
              <input
                type="checkbox"
                checked={startSessions}
                disabled={values.isHighPriority}
                onChange={(event) => set("startSessions", event.target.checked)}
                data-testid="pair-start-sessions"
              />
              {startSessionsLabel(added, startSessions, isNew)}
            </label>
          )}
          {stopping.length > 0 && (
            <div className="banner banner--warning" role="alert" data-testid="stop-warning">
              <p>{stopWarning(stopping)}</p>
              <label className="checkbox">
                <input
                  type="checkbox"
                  checked={!blockedByStop}
                  onChange={(event) => setStopConfirmedFor(event.target.checked ? stopping.join(",") : null)}
                  data-testid="stop-confirm"
                />
                I confirm stopping {stopping.length === 1 ? "it" : "them"}.
              </label>
            </div>
          )}
        </div>
        <Field id="pair-pause" label="Pause below success ratio" error={errors.pauseThreshold} hint={globalHint(policy.data?.pause_threshold)}>
          <input
            id="pair-pause"
            className="input"
            inputMode="decimal"
            placeholder={policy.data ? String(policy.data.pause_threshold) : undefined}
            value={values.pauseThreshold}
            onChange={(event) => set("pauseThreshold", event.target.value)}
            data-testid="pair-pause-threshold"
          />
        </Field>
        <Field id="pair-resume" label="Resume above success ratio" error={errors.resumeThreshold} hint={globalHint(policy.data?.resume_threshold)}>
          <input
            id="pair-resume"
            className="input"
            inputMode="decimal"
            placeholder={policy.data ? String(policy.data.resume_threshold) : undefined}
            value={values.resumeThreshold}
            onChange={(event) => set("resumeThreshold", event.target.value)}
            data-testid="pair-resume-threshold"
          />
        </Field>
      </form>
      {forceMessage && (
        <div className="banner banner--warning" role="alert" data-testid="force-warning" ref={forceWarning}>
          <p>{inFormWords(forceMessage)}</p>
          <label className="checkbox">
            <input
              type="checkbox"
              checked={forceConfirmed}
              onChange={(event) => setForceConfirmed(event.target.checked)}
              data-testid="force-confirm"
            />
            I confirm this change, then Save anyway.
          </label>
        </div>
      )}
      {errors.form && (
        <p className="banner banner--error" role="alert" data-testid="pair-form-error">
          {errors.form}
        </p>
      )}
    </Dialog>
  );
}

// Keep a host that left the inventory selectable, so the pair can be moved off it.
function hostChoices(hosts: readonly Host[], current: string): Pick<Host, "name" | "address" | "reachable">[] {
  if (hosts.some((host) => host.name === current)) return [...hosts];
  return [...hosts, { name: current, address: "not in the inventory", reachable: false }];
}

interface StateFieldsProps {
  values: PairFormValues;
  errors: PairFormErrors;
  set: <K extends keyof PairFormValues>(key: K, value: PairFormValues[K]) => void;
}

function StateFields({ values, errors, set }: StateFieldsProps) {
  return (
    <>
      <Field
        id="pair-state"
        label="State"
        error={errors.state}
        hint={
          values.state === "probing"
            ? "The success-rate policy probes this pair at a low rate, and resumes or pauses it on its own; choose a state to override it."
            : undefined
        }
      >
        <select
          id="pair-state"
          className="input"
          value={values.state}
          onChange={(event) => set("state", event.target.value as PairState)}
          data-testid="pair-state"
        >
          {/* Shown while the pair is in it, never to be chosen: the API refuses it by hand. */}
          {values.state === "probing" && (
            <option value="probing" disabled>
              probing (by the policy)
            </option>
          )}
          {SETTABLE_STATES.map((state) => (
            <option key={state} value={state}>
              {state}
            </option>
          ))}
        </select>
      </Field>
      <Field id="pair-state-reason" label="Reason for the state change" error={errors.stateReason}>
        <input
          id="pair-state-reason"
          className="input"
          value={values.stateReason}
          maxLength={256}
          onChange={(event) => set("stateReason", event.target.value)}
          data-testid="pair-state-reason"
        />
      </Field>
    </>
  );
}

interface ProgramPickerProps {
  programs: readonly Program[];
  selected: readonly string[];
  error?: string | undefined;
  onChange: (selected: string[]) => void;
}

function ProgramPicker({ programs, selected, error, onChange }: ProgramPickerProps) {
  const toggle = (name: string, checked: boolean) =>
    onChange(checked ? [...selected, name] : selected.filter((item) => item !== name));
  // Keep assignments to programs that no longer exist visible, so they can be removed.
  const names = [...new Set([...programs.map((program) => program.name), ...selected])];
  const byName = new Map(programs.map((program) => [program.name, program]));
  return (
    <fieldset className={error ? "field field--invalid program-picker" : "field program-picker"}>
      <legend className="field__label">Programs</legend>
      {names.length === 0 && <p className="field__hint">No programs are defined yet.</p>}
      <div className="program-picker__options">
        {names.map((name) => (
          <label key={name} className="checkbox program-picker__option" title={byName.get(name)?.description}>
            <input
              type="checkbox"
              checked={selected.includes(name)}
              onChange={(event) => toggle(name, event.target.checked)}
              data-testid={`pair-program-${name}`}
            />
            <span className="mono">{name}</span>
            {byName.get(name)?.provider && <span className="muted">{byName.get(name)?.provider}</span>}
          </label>
        ))}
      </div>
      {error && (
        <p className="field__error" role="alert" data-testid="error-pair-programs">
          {error}
        </p>
      )}
    </fieldset>
  );
}
