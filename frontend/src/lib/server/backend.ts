/**
 * How this server reaches the backend. BACKEND_URL is read on every call, at
 * runtime, so one image runs in every environment and the address never ends
 * up in the browser bundle.
 */
import { NextResponse } from "next/server";

const DEFAULT_BACKEND_URL = "http://localhost:8000";

// Long enough for the chat endpoint when it asks a language model.
const BACKEND_TIMEOUT_MS = 30_000;

export function backendUrl(pathAndQuery: string): string {
  const base = (process.env.BACKEND_URL || DEFAULT_BACKEND_URL).replace(/\/+$/, "");
  return `${base}${pathAndQuery}`;
}

export class BackendUnavailable extends Error {
  constructor(readonly timedOut: boolean) {
    super(timedOut ? "backend timed out" : "backend unreachable");
  }
}

// A kept-alive connection to the backend can fail before any answer when the backend closes it
// as it is reused (a pod stopping in a rolling update, a restart). A request that changes nothing
// is then safe to send once more; fetch opens a fresh connection, to a pod that serves. Others
// are not repeated: the backend may have acted on them.
const REPEATABLE_METHODS = new Set(["GET", "HEAD"]);

export async function callBackend(pathAndQuery: string, init: RequestInit): Promise<Response> {
  const attempts = REPEATABLE_METHODS.has((init.method ?? "GET").toUpperCase()) ? 2 : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(backendUrl(pathAndQuery), {
        ...init,
        cache: "no-store",
        redirect: "manual",
        signal: AbortSignal.timeout(BACKEND_TIMEOUT_MS),
      });
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === "TimeoutError";
      // A timeout is not repeated: the backend is slow, not gone, and the user has waited enough.
      if (timedOut || attempt >= attempts) throw new BackendUnavailable(timedOut);
    }
  }
}

/** Same error shape as the backend's own, so the client parses one format. */
export function unavailableResponse(error: BackendUnavailable): NextResponse {
  return NextResponse.json(
    error.timedOut
      ? { detail: "The Todo service took too long to answer.", code: "backend_timeout" }
      : { detail: "The Todo service is unreachable.", code: "backend_unavailable" },
    { status: error.timedOut ? 504 : 502 },
  );
}
