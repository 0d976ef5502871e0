// The HTTP API as the console uses it. Credentials: the browser's own HTTP Basic cache
// (it prompted when the page loaded under scram-sha-256), sent with every same-origin fetch.

/** An error answer of the API: its SQLSTATE and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function check(response) {
  if (response.ok) return response;
  let code = String(response.status), message = response.statusText;
  try {
    const body = await response.json();
    if (body.error) ({ code, message } = body.error);
    else if (body.status) message = body.status + (body.detail ? `: ${body.detail}` : "");
  } catch (_) { /* not JSON */ }
  throw new ApiError(response.status, code, message);
}

export async function getJSON(path) {
  const response = await check(await fetch(path, { headers: { Accept: "application/json" } }));
  return response.json();
}

/** Runs one query with /v1/sql; `format` is json (rows as objects) or csv (text). */
export async function query(sql, format = "json") {
  const response = await check(await fetch("/v1/sql", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query: sql, format }),
  }));
  return format === "json" ? response.json() : response.text();
}
