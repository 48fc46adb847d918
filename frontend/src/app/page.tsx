import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import { TodoApp } from "@/components/TodoApp";
import { SESSION_COOKIE } from "@/lib/server/session";

export default async function HomePage() {
  // Without a session there is nothing to show; an invalid one is caught by
  // the first API call, which sends the person back here via /login.
  if (!(await cookies()).get(SESSION_COOKIE)?.value) redirect("/login");
  return <TodoApp />;
}
