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

export async function callBackend(pathAndQuery: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(backendUrl(pathAndQuery), {
      ...init,
      cache: "no-store",
      redirect: "manual",
      signal: AbortSignal.timeout(BACKEND_TIMEOUT_MS),
    });
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === "TimeoutError";
    throw new BackendUnavailable(timedOut);
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
