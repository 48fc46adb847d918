"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { api, asApiError, type FieldErrors } from "@/lib/api";
import { Alert } from "./Alert";
import { FieldError, invalidProps } from "./FieldError";

type Mode = "login" | "register";

const COPY = {
  login: { title: "Log in", submit: "Log in", busy: "Logging in…", other: "/register", otherLabel: "Create an account" },
  register: { title: "Create an account", submit: "Create account", busy: "Creating…", other: "/login", otherLabel: "I already have an account" },
} as const;

interface AuthFormProps {
  mode: Mode;
  notice?: string;
  initialEmail?: string;
}

export function AuthForm({ mode, notice, initialEmail = "" }: AuthFormProps) {
  const router = useRouter();
  const copy = COPY[mode];
  const [email, setEmail] = useState(initialEmail);
  const [password, setPassword] = useState("");
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setFieldErrors({});
    setFormError("");
    try {
      if (mode === "register") {
        await api.register({ email, password });
        router.push(`/login?registered=1&email=${encodeURIComponent(email)}`);
      } else {
        await api.login({ email, password });
        router.replace("/");
        router.refresh();
      }
    } catch (error) {
      const apiError = asApiError(error);
      setFieldErrors(apiError.fieldErrors);
      if (Object.keys(apiError.fieldErrors).length === 0) setFormError(apiError.message);
      setBusy(false);
    }
  }

  return (
    <main className="auth-page">
      <form className="card auth-form" onSubmit={submit}>
        <h1>{copy.title}</h1>
        {notice && <Alert kind="info">{notice}</Alert>}
        {formError && <Alert kind="error">{formError}</Alert>}
        <div className="field">
          <label htmlFor="email">Email</label>
          <input
            id="email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(event) => setEmail(event.target.value)}
            {...invalidProps("email", fieldErrors.email)}
          />
          <FieldError fieldId="email" message={fieldErrors.email} />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input
            id="password"
            type="password"
            autoComplete={mode === "login" ? "current-password" : "new-password"}
            required
            value={password}
            onChange={(event) => setPassword(event.target.value)}
            {...invalidProps("password", fieldErrors.password)}
          />
          <FieldError fieldId="password" message={fieldErrors.password} />
        </div>
        <button type="submit" className="button-primary" disabled={busy}>
          {busy ? copy.busy : copy.submit}
        </button>
        <p className="auth-switch">
          <Link href={copy.other}>{copy.otherLabel}</Link>
        </p>
      </form>
    </main>
  );
}
