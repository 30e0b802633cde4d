// REST calls in the gateway's {success, data | error} envelope, same origin.
// Every failure becomes an Error whose message is the server's words.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, "UNAVAILABLE", `The server cannot be reached (${err.message}).`);
  }
  let json = null;
  try { json = await res.json(); } catch { /* not JSON: said below */ }
  if (!json || json.success !== true) {
    const error = json?.error ?? {};
    const words = error.message ?? `The server answered ${res.status} ${res.statusText}.`;
    throw new ApiError(res.status, error.code ?? "HTTP_" + res.status, words);
  }
  return json.data;
}
