/** Due dates are calendar days (YYYY-MM-DD), compared in the person's own time zone. */

export function localToday(now = new Date()): string {
  const month = String(now.getMonth() + 1).padStart(2, "0");
  const day = String(now.getDate()).padStart(2, "0");
  return `${now.getFullYear()}-${month}-${day}`;
}

export function isOverdue(dueDate: string | null, done: boolean, today = localToday()): boolean {
  return !done && dueDate !== null && dueDate < today;
}

/** "Mon, Feb 3, 2025": read as a calendar day, so no time zone can shift it. */
export function formatDueDate(dueDate: string): string {
  return new Intl.DateTimeFormat("en", {
    weekday: "short",
    month: "short",
    day: "numeric",
    year: "numeric",
    timeZone: "UTC",
  }).format(new Date(`${dueDate}T00:00:00Z`));
}
