// "Copy as curl": a captured request as a curl command that sends the same bytes again and is
// safe to paste. The page loads it before inspector.js; the tests run it under node.
//
// Right in POSIX shells (bash, zsh, dash, ksh) and in fish alike:
// - An argument is single-quoted runs with each ' and \ written outside the quotes, as \' and
//   \\. The POSIX idiom 'it'\''s' is not enough: fish reads \' inside single quotes as a quote,
//   so a value holding \' would close fish's quote and run what follows.
// - Nothing that a terminal or line editor acts on is pasted raw (a tab completes, a carriage
//   return runs the line, ESC can end a bracketed paste). A header holding one (or any byte
//   outside printable ASCII) is made by "$(printf '\ooo...')", which fish reads from 3.4 on; such
//   a body goes through printf into --data-binary @- (NUL and all).
// - A text body goes with --data-raw (a leading @ is data, not a file to read), the URL with
//   --globoff ([1-9] and {a,b} are characters, not a range of requests).
// - The headers curl adds by itself (User-Agent, Accept, Content-Type for a body, Expect) are
//   taken out when the request did not carry them.
"use strict";

// Headers curl computes from the command; giving them would contradict it.
const CURL_COMPUTED = new Set(["content-length", "connection", "transfer-encoding", "expect"]);
// Not pasted raw: C0 but newline, DEL, C1, and the Unicode controls that reorder or break lines.
const PASTE_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const PRINTABLE_ASCII = /^[\u0020-\u007e]*$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/; // an RFC 9110 token
const DOT_SEGMENT = /\/\.\.?(\/|$|\?)/;

function shellWord(text) {
  if (text === "") return "''";
  return text
    .split(/(['\\])/)
    .filter((part) => part !== "")
    .map((part) => (part === "'" || part === "\\" ? `\\${part}` : `'${part}'`))
    .join("");
}

function octal(bytes) {
  return Array.from(bytes, (b) => `\\${b.toString(8).padStart(3, "0")}`).join("");
}

// The target as the agent sent it to the local service: each character HTTP cannot carry raw
// percent-encoded as UTF-8 (tunnel_cli/forward.py's _ascii_target); and # too, which curl would
// take for a fragment and not send.
function wireTarget(text) {
  return text.replace(/[^\u0021-\u007e]|#/gu, (c) =>
    Array.from(new TextEncoder().encode(c), (b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""));
}

// A header's bytes as the agent sent them: Latin-1 when it can be, else UTF-8 (forward.py).
function headerBytes(text) {
  const codes = Array.from(text, (c) => c.codePointAt(0));
  return codes.every((c) => c <= 0xff) ? Uint8Array.from(codes) : new TextEncoder().encode(text);
}

function headerWord(name, value) {
  if (value === "") return shellWord(`${name};`); // "Name:" would make curl drop the header
  const line = `${name}: ${value}`;
  if (PRINTABLE_ASCII.test(value)) return shellWord(line);
  return `"$(printf '${octal(headerBytes(line))}')"`;
}

function textOf(bytes) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (_) {
    return null;
  }
}

// request: {method, uri, header_list, truncated}; body: its bytes; base: the URL to send it to
// (scheme and authority); keepHost: send the captured Host (to the local address).
// {command, left}: left names what the command does not carry.
function curlCommand(request, body, base, keepHost) {
  const args = ["curl", "--globoff"];
  const left = [];
  if (request.method === "HEAD") args.push("--head");
  else if (request.method !== "GET" || body.length) args.push("-X", shellWord(request.method));
  if (DOT_SEGMENT.test(request.uri)) args.push("--path-as-is");
  args.push(shellWord(wireTarget(base + request.uri)));
  const given = new Set();
  for (const [name, value] of request.header_list) {
    const lower = name.toLowerCase();
    if (CURL_COMPUTED.has(lower) || (lower === "host" && !keepHost)) continue;
    if (!HEADER_NAME.test(name)) {
      left.push(`header ${JSON.stringify(name)} (not a valid name)`);
      continue;
    }
    given.add(lower);
    args.push("-H", headerWord(name, value));
  }
  const added = ["User-Agent", "Accept", ...(body.length ? ["Content-Type", "Expect"] : [])];
  for (const name of added) if (!given.has(name.toLowerCase())) args.push("-H", shellWord(`${name}:`));
  if (request.truncated) left.push(`the body past its first ${body.length} bytes (not kept)`);
  if (!body.length) return { command: args.join(" "), left };
  const text = textOf(body);
  if (text !== null && !PASTE_UNSAFE.test(text)) {
    return { command: [...args, "--data-raw", shellWord(text)].join(" "), left };
  }
  // printf's octal escapes are POSIX and fish's; @- reads the bytes from stdin unchanged.
  return { command: `printf '${octal(body)}' | ${[...args, "--data-binary", "@-"].join(" ")}`, left };
}

if (typeof module === "object" && module.exports) module.exports = { curlCommand, shellWord };
