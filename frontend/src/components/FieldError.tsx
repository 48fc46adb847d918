/** A field's error, linked to its input through aria-describedby. */
export function fieldErrorId(fieldId: string): string {
  return `${fieldId}-error`;
}

export function FieldError({ fieldId, message }: { fieldId: string; message?: string }) {
  if (!message) return null;
  return (
    <p id={fieldErrorId(fieldId)} className="field-error">
      {message}
    </p>
  );
}

/** Props that mark an input invalid and point it at its error message. */
export function invalidProps(fieldId: string, message?: string) {
  return message ? { "aria-invalid": true, "aria-describedby": fieldErrorId(fieldId) } : {};
}
