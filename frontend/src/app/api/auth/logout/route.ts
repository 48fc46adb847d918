/** Logging out is forgetting the cookie: the backend's tokens are stateless. */
import { NextResponse } from "next/server";
import { clearSessionCookie } from "@/lib/server/session";

export const dynamic = "force-dynamic";

export function POST(): Response {
  const response = new NextResponse(null, { status: 204 });
  clearSessionCookie(response);
  return response;
}
