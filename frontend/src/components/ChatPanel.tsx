"use client";

import { useEffect, useRef, useState, type FormEvent } from "react";
import { ApiError, api, asApiError } from "@/lib/api";
import { Alert } from "./Alert";
import { FieldError, invalidProps } from "./FieldError";

interface ChatEntry {
  id: number;
  from: "you" | "assistant";
  text: string;
}

interface ChatPanelProps {
  /** Called after the assistant changed tasks, so the list can refresh. */
  onTasksChanged: () => void;
  /** Errors the panel cannot show itself (an ended session). */
  onError: (error: ApiError) => void;
}

const EXAMPLES = "Try “add buy milk tomorrow”, “what is left”, or “complete 3”.";

export function ChatPanel({ onTasksChanged, onError }: ChatPanelProps) {
  const [entries, setEntries] = useState<ChatEntry[]>([]);
  const [message, setMessage] = useState("");
  const [fieldError, setFieldError] = useState("");
  const [failure, setFailure] = useState("");
  const [busy, setBusy] = useState(false);
  const logRef = useRef<HTMLOListElement>(null);

  // Keep the newest exchange in view once the log is taller than its box.
  useEffect(() => {
    const log = logRef.current;
    if (log) log.scrollTop = log.scrollHeight;
  }, [entries]);

  function append(from: ChatEntry["from"], text: string) {
    setEntries((current) => [...current, { id: current.length, from, text }]);
  }

  async function send(event: FormEvent) {
    event.preventDefault();
    const text = message.trim();
    if (!text) return;
    setBusy(true);
    setFieldError("");
    setFailure("");
    try {
      const result = await api.chat(text);
      append("you", text);
      append("assistant", result.reply);
      setMessage("");
      if (result.actions.some((action) => action.type !== "list")) onTasksChanged();
    } catch (error) {
      const apiError = asApiError(error);
      if (apiError.isUnauthorized) onError(apiError);
      else if (apiError.fieldErrors.message) setFieldError(apiError.fieldErrors.message);
      else setFailure(apiError.message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card chat" aria-labelledby="chat-heading">
      <h2 id="chat-heading">Assistant</h2>
      <p className="hint">{EXAMPLES}</p>
      <ol className="chat-log" ref={logRef} aria-live="polite" aria-label="Conversation">
        {entries.map((entry) => (
          <li key={entry.id} className={`chat-entry chat-${entry.from}`}>
            <span className="visually-hidden">{entry.from === "you" ? "You said:" : "Assistant:"}</span>
            {entry.text}
          </li>
        ))}
      </ol>
      {failure && <Alert kind="error">{failure}</Alert>}
      <form className="chat-form" onSubmit={send}>
        <div className="field">
          <label htmlFor="chat-message">Message</label>
          <input
            id="chat-message"
            value={message}
            autoComplete="off"
            onChange={(event) => setMessage(event.target.value)}
            {...invalidProps("chat-message", fieldError)}
          />
          <FieldError fieldId="chat-message" message={fieldError} />
        </div>
        <button type="submit" className="button-primary" disabled={busy}>
          {busy ? "Sending…" : "Send"}
        </button>
      </form>
    </section>
  );
}
