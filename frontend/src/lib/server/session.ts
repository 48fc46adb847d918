/**
 * The session lives in an httpOnly cookie that only this server reads, so the
 * token is never exposed to page scripts (an XSS cannot steal it) and never
 * stored in localStorage. SameSite=Lax keeps other sites from riding on it.
 */
import type { NextRequest, NextResponse } from "next/server";

export const SESSION_COOKIE = "todo_session";

export function sessionToken(request: NextRequest): string | undefined {
  return request.cookies.get(SESSION_COOKIE)?.value || undefined;
}

/** Behind an ingress that terminates TLS the request itself is plain HTTP. */
function isHttps(request: NextRequest): boolean {
  const forwarded = request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim();
  return (forwarded ?? request.nextUrl.protocol.replace(":", "")) === "https";
}

export function setSessionCookie(
  response: NextResponse,
  request: NextRequest,
  token: string,
  maxAgeSeconds: number,
): void {
  response.cookies.set({
    name: SESSION_COOKIE,
    value: token,
    httpOnly: true,
    sameSite: "lax",
    secure: isHttps(request),
    path: "/",
    // The cookie dies with the token, so an expired session simply has none.
    maxAge: maxAgeSeconds,
  });
}

export function clearSessionCookie(response: NextResponse): void {
  response.cookies.set({ name: SESSION_COOKIE, value: "", httpOnly: true, sameSite: "lax", path: "/", maxAge: 0 });
}
