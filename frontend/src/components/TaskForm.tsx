"use client";

import { useId, useRef, useState, type FormEvent } from "react";
import { ApiError, type FieldErrors } from "@/lib/api";
import { PRIORITIES, type Priority, type TaskInput } from "@/lib/types";
import { Alert } from "./Alert";
import { FieldError, invalidProps } from "./FieldError";

const EMPTY: TaskInput = { title: "", description: "", priority: "medium", due_date: null };
const FIELDS = Object.keys(EMPTY);

interface TaskFormProps {
  /** Adding when absent, editing when given. */
  initial?: TaskInput;
  submitLabel: string;
  /** Rejects with an ApiError whose field errors are shown next to the fields. */
  onSubmit: (input: TaskInput) => Promise<unknown>;
  onCancel?: () => void;
}

/** The task fields, used both to add a task and to edit one in place. */
export function TaskForm({ initial, submitLabel, onSubmit, onCancel }: TaskFormProps) {
  const id = useId();
  const titleRef = useRef<HTMLInputElement>(null);
  const [values, setValues] = useState<TaskInput>(initial ?? EMPTY);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const adding = !initial;
  const fieldId = (name: string) => `${id}-${name}`;

  function set<K extends keyof TaskInput>(name: K, value: TaskInput[K]) {
    setValues((current) => ({ ...current, [name]: value }));
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    const submitted = values;
    setErrors({});
    // Adding is optimistic: the form is free for the next task at once, and
    // gets this one back only if the server refuses it. Editing waits.
    if (adding) setValues(EMPTY);
    else setBusy(true);
    titleRef.current?.focus();
    try {
      await onSubmit(submitted);
    } catch (error) {
      if (adding) setValues(submitted);
      if (error instanceof ApiError) setErrors(error.fieldErrors);
    } finally {
      setBusy(false);
    }
  }

  // Errors the server could not pin on one of the fields below.
  const otherErrors = Object.entries(errors).filter(([name]) => !FIELDS.includes(name));

  return (
    <form
      className="task-form"
      onSubmit={submit}
      onKeyDown={(event) => event.key === "Escape" && onCancel?.()}
      aria-label={initial ? `Edit ${initial.title}` : "Add a task"}
    >
      {otherErrors.length > 0 && <Alert kind="error">{otherErrors.map(([, message]) => message).join(" ")}</Alert>}
      <div className="field">
        <label htmlFor={fieldId("title")}>Title</label>
        <input
          id={fieldId("title")}
          ref={titleRef}
          required
          autoFocus={!adding}
          value={values.title}
          onChange={(event) => set("title", event.target.value)}
          {...invalidProps(fieldId("title"), errors.title)}
        />
        <FieldError fieldId={fieldId("title")} message={errors.title} />
      </div>
      <div className="field">
        <label htmlFor={fieldId("priority")}>Priority</label>
        <select
          id={fieldId("priority")}
          value={values.priority}
          onChange={(event) => set("priority", event.target.value as Priority)}
          {...invalidProps(fieldId("priority"), errors.priority)}
        >
          {PRIORITIES.map((priority) => (
            <option key={priority} value={priority}>
              {priority}
            </option>
          ))}
        </select>
        <FieldError fieldId={fieldId("priority")} message={errors.priority} />
      </div>
      <div className="field">
        <label htmlFor={fieldId("due_date")}>Due date</label>
        <input
          id={fieldId("due_date")}
          type="date"
          value={values.due_date ?? ""}
          onChange={(event) => set("due_date", event.target.value || null)}
          {...invalidProps(fieldId("due_date"), errors.due_date)}
        />
        <FieldError fieldId={fieldId("due_date")} message={errors.due_date} />
      </div>
      <div className="field field-description">
        <label htmlFor={fieldId("description")}>Notes (optional)</label>
        <input
          id={fieldId("description")}
          value={values.description}
          onChange={(event) => set("description", event.target.value)}
          {...invalidProps(fieldId("description"), errors.description)}
        />
        <FieldError fieldId={fieldId("description")} message={errors.description} />
      </div>
      <div className="form-actions">
        <button type="submit" className="button-primary" disabled={busy}>
          {submitLabel}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
