/**
 * Logs in against the backend and keeps the token in the session cookie. The
 * browser gets `{ ok: true }`, never the token itself.
 */
import { NextResponse, type NextRequest } from "next/server";
import { BackendUnavailable, callBackend, unavailableResponse } from "@/lib/server/backend";
import { setSessionCookie } from "@/lib/server/session";

export const dynamic = "force-dynamic";

// Used when the backend does not say how long its token lives.
const FALLBACK_TOKEN_SECONDS = 3600;

interface LoginResult {
  access_token: string;
  expires_in?: number;
}

export async function POST(request: NextRequest): Promise<Response> {
  let backend: Response;
  try {
    backend = await callBackend("/api/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: await request.text(),
    });
  } catch (error) {
    if (error instanceof BackendUnavailable) return unavailableResponse(error);
    throw error;
  }
  if (!backend.ok) {
    return new NextResponse(backend.body, {
      status: backend.status,
      headers: { "content-type": backend.headers.get("content-type") ?? "application/json" },
    });
  }
  const { access_token, expires_in } = (await backend.json()) as LoginResult;
  const response = NextResponse.json({ ok: true });
  setSessionCookie(response, request, access_token, expires_in ?? FALLBACK_TOKEN_SECONDS);
  return response;
}
