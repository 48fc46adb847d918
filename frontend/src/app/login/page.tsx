import { AuthForm } from "@/components/AuthForm";

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

const NOTICES: Record<string, string> = {
  expired: "Your session has expired. Please log in again.",
  registered: "Account created. You can log in now.",
  loggedout: "You have been logged out.",
};

function noticeFor(params: Record<string, unknown>): string | undefined {
  const key = Object.keys(NOTICES).find((name) => params[name] !== undefined);
  return key ? NOTICES[key] : undefined;
}

export default async function LoginPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const email = typeof params.email === "string" ? params.email : undefined;
  return <AuthForm mode="login" notice={noticeFor(params)} initialEmail={email} />;
}
