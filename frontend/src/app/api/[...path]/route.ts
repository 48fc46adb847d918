/**
 * Runtime proxy: every /api/* request this server has no route of its own for
 * goes to the backend, with the session cookie turned into a Bearer token.
 */
import { NextResponse, type NextRequest } from "next/server";
import { BackendUnavailable, callBackend, unavailableResponse } from "@/lib/server/backend";
import { clearSessionCookie, sessionToken } from "@/lib/server/session";

export const dynamic = "force-dynamic";

// Only what the backend needs; cookies in particular stay on this side.
const FORWARDED_REQUEST_HEADERS = ["accept", "content-type", "x-request-id"];
const FORWARDED_RESPONSE_HEADERS = ["content-type", "x-request-id", "www-authenticate", "retry-after"];

function pick(headers: Headers, names: string[]): Headers {
  const picked = new Headers();
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null) picked.set(name, value);
  }
  return picked;
}

async function proxy(request: NextRequest): Promise<Response> {
  const headers = pick(request.headers, FORWARDED_REQUEST_HEADERS);
  const token = sessionToken(request);
  if (token) headers.set("authorization", `Bearer ${token}`);

  let backend: Response;
  try {
    backend = await callBackend(request.nextUrl.pathname + request.nextUrl.search, {
      method: request.method,
      headers,
      // Streamed, not buffered: the backend enforces its own body size limit.
      body: request.body,
      duplex: "half",
    } as RequestInit);
  } catch (error) {
    if (error instanceof BackendUnavailable) return unavailableResponse(error);
    throw error;
  }

  const hasBody = backend.status !== 204 && backend.status !== 304 && request.method !== "HEAD";
  const response = new NextResponse(hasBody ? backend.body : null, {
    status: backend.status,
    headers: pick(backend.headers, FORWARDED_RESPONSE_HEADERS),
  });
  // A rejected token is useless: drop it so the next page load goes to login.
  if (backend.status === 401 && token) clearSessionCookie(response);
  return response;
}

export { proxy as GET, proxy as POST, proxy as PUT, proxy as PATCH, proxy as DELETE, proxy as HEAD };
