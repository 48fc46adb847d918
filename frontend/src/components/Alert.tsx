import type { ReactNode } from "react";

/** A message for the whole page or form; errors are announced at once. */
export function Alert({ kind, children }: { kind: "error" | "info"; children: ReactNode }) {
  return (
    <div className={`alert alert-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}
