/** Probe endpoint: proves this server answers, without touching the backend. */
export const dynamic = "force-dynamic";

export function GET(): Response {
  return Response.json({ status: "ok" });
}
