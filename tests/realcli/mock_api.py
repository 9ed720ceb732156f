#!/usr/bin/env python3
"""Loopback mock of the Anthropic, OpenAI (Responses) and Gemini streaming APIs.

Just enough for Claude Code, Codex CLI and Gemini CLI to run whole turns against it,
so that tests/realcli/capture.sh can photograph their screens in every state.

Python 3.11 stdlib only. Binds 127.0.0.1 only.

    python3 mock_api.py --port 0 --scenario ok      # prints "PORT <n>" on stdout

Scenarios (global default from --scenario; can be changed at run time with
`GET /_scenario/<name>`, or per request with header `X-Mock-Scenario: <name>`):

  ok      short text answer, streamed slowly (--delay seconds between chunks)
  slow    like ok but a much longer answer (for 'streaming' / 'killed' captures)
  tool    first turn: a shell tool call that needs approval (Claude Bash, Codex
          exec_command/shell_command/shell, Gemini run_shell_command); after the
          tool result comes back: a short final text
  429     HTTP 429 rate limit error (provider's own error body)
  429daily  like 429; for Gemini the body carries a QuotaFailure with a PerDay quotaId, which
          Gemini CLI treats as terminal (no silent retries) -> its quota / fallback UI
  529     overloaded: Anthropic 529 overloaded_error; OpenAI/Gemini 503
  503     same as 529
  401     HTTP 401 authentication error
  500     HTTP 500 internal error
  hang    accept the request and never answer (stream stays open)
  billing   out of credit: Anthropic 400 invalid_request_error "Your credit balance is too low to
          access the Anthropic API..."; OpenAI 429 insufficient_quota ("You exceeded your current
          quota, please check your plan and billing details..."); Gemini 429 daily quota (as 429daily)
  400key  an invalid API key the way Gemini says it: HTTP 400 INVALID_ARGUMENT with an ErrorInfo
          reason API_KEY_INVALID (Anthropic and OpenAI: their 401)

Every request is logged to stderr (method, path, scenario, a short body summary).
Every model request is also recorded (api, model, whether it is the main turn, and
the text of the last user message): `GET /_requests` returns them as a JSON list,
`GET /_requests/clear` forgets them, and `--request-log FILE` appends each as a JSON line.
Auxiliary requests (title generation, token counting, routing classifiers, etc.) are
answered with a tiny successful reply even in error scenarios unless --strict-errors,
so that the error reaches the main turn the way a real outage would.
"""
import argparse
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

STATE = {"scenario": "ok", "delay": 0.3, "strict": False, "request_log": None}
LOCK = threading.Lock()
REQUESTS = []


def text_of(content):
    """The text of one message's content (a string, or a list of text parts)."""
    if isinstance(content, str):
        return content
    out = []
    for part in content or []:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            out.append(part["text"])
    return "\n".join(out)


def record(api, model, main, scenario, last_user, messages):
    entry = {"api": api, "model": model, "main": bool(main), "scenario": scenario,
             "last_user": last_user, "messages": messages, "time": time.time()}
    with LOCK:
        entry["n"] = len(REQUESTS)
        REQUESTS.append(entry)
        path = STATE["request_log"]
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(entry) + "\n")

OK_TEXT = ("Hello from the mock API. This answer is streamed slowly, one small piece at a "
           "time, so that a screen capture can catch the agent while it is still writing. "
           "Done.")
SLOW_TEXT = " ".join(f"Line {i}: the mock keeps streaming words so the answer stays in flight." for i in range(1, 13))
FINAL_AFTER_TOOL = "The command ran. I created the marker file for you. All done."
# not a read-only command, so Claude and Gemini ask before running it (they auto-allow ls)
TOOL_CMD = "touch mock-tool-marker.txt"


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def chunks(text, n=2):
    words = text.split(" ")
    out = []
    for i in range(0, len(words), n):
        piece = " ".join(words[i:i + n])
        out.append(piece if i == 0 else " " + piece)
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-api/1.0"

    def log_message(self, fmt, *args):  # silence default logging
        pass

    # ---------------------------------------------------------------- helpers
    def scenario(self):
        return self.headers.get("X-Mock-Scenario") or STATE["scenario"]

    def body_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw and self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = self.read_chunked()
        try:
            return json.loads(raw.decode("utf-8") or "{}")
        except Exception:
            return {"_raw": raw[:200].decode("utf-8", "replace")}

    def read_chunked(self):
        data = b""
        while True:
            line = self.rfile.readline().strip()
            size = int(line.split(b";")[0] or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return data
            data += self.rfile.read(size)
            self.rfile.readline()

    def send_json(self, code, obj, extra_headers=None):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def sse(self, event, obj):
        msg = ""
        if event:
            msg += f"event: {event}\n"
        msg += f"data: {json.dumps(obj)}\n\n"
        self.wfile.write(msg.encode())
        self.wfile.flush()

    def hang(self):
        self.start_sse()
        try:
            while True:
                time.sleep(1)
                self.wfile.write(b": keepalive\n\n")
                self.wfile.flush()
        except Exception:
            return

    # ---------------------------------------------------------------- routing
    def do_GET(self):
        path = urlparse(self.path).path
        if path.startswith("/_scenario/"):
            with LOCK:
                STATE["scenario"] = path.split("/", 2)[2]
            log("SCENARIO ->", STATE["scenario"])
            return self.send_json(200, {"scenario": STATE["scenario"]})
        if path == "/_requests":
            with LOCK:
                return self.send_json(200, list(REQUESTS))
        if path == "/_requests/clear":
            with LOCK:
                REQUESTS.clear()
            return self.send_json(200, {"cleared": True})
        if path == "/_scenario":
            return self.send_json(200, {"scenario": STATE["scenario"]})
        log("GET", self.path, "scenario=" + self.scenario())
        if path.endswith("/models") or path.endswith("/models/"):
            return self.send_json(200, {"object": "list", "data": [], "models": []})
        return self.send_json(404, {"error": {"message": "not found in mock", "code": 404}})

    def do_HEAD(self):
        log("HEAD", self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        path = urlparse(self.path).path
        body = self.body_json()
        sc = self.scenario()
        try:
            if path.endswith("/messages/count_tokens"):
                log("POST", self.path, "(count_tokens)")
                return self.send_json(200, {"input_tokens": 42})
            if path.endswith("/messages"):
                return self.anthropic(body, sc)
            if path.endswith("/responses"):
                return self.openai_responses(body, sc)
            if path.endswith("/chat/completions"):
                log("POST", self.path, "chat/completions not supported by mock")
                return self.send_json(404, {"error": {"message": "mock supports only /responses"}})
            if ":streamGenerateContent" in path or ":generateContent" in path:
                return self.gemini(path, body, sc)
            if ":countTokens" in path:
                log("POST", self.path, "(countTokens)")
                return self.send_json(200, {"totalTokens": 42})
            if ":embedContent" in path or ":batchEmbedContents" in path:
                log("POST", self.path, "(embed)")
                return self.send_json(200, {"embedding": {"values": [0.0] * 8}})
            log("POST", self.path, "UNKNOWN", json.dumps(body)[:300])
            return self.send_json(404, {"error": {"message": "unknown path in mock", "code": 404}})
        except (BrokenPipeError, ConnectionResetError) as e:
            log("client went away:", e)

    # ---------------------------------------------------------------- Anthropic
    def anthropic(self, body, sc):
        tools = [t.get("name") for t in body.get("tools") or []]
        stream = bool(body.get("stream"))
        msgs = body.get("messages") or []
        last = msgs[-1] if msgs else {}
        has_tool_result = isinstance(last.get("content"), list) and any(
            isinstance(c, dict) and c.get("type") == "tool_result" for c in last["content"])
        main = "Bash" in tools or len(tools) > 3
        log("POST", self.path, f"anthropic model={body.get('model')} stream={stream} tools={len(tools)} "
            f"msgs={len(msgs)} tool_result={has_tool_result} main={main} scenario={sc}")
        users = [m for m in msgs if isinstance(m, dict) and m.get("role") == "user"]
        record("anthropic", body.get("model"), main, sc, text_of(users[-1].get("content")) if users else "", len(msgs))
        if not main and not STATE["strict"]:
            sc_eff = "ok_fast"
        else:
            sc_eff = {"429daily": "429", "400key": "401"}.get(sc, sc)
        errs = {
            "billing": (400, "invalid_request_error", "Your credit balance is too low to access the Anthropic "
                        "API. Please go to Plans & Billing to upgrade or purchase credits."),
            "429": (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
            "529": (529, "overloaded_error", "Overloaded"),
            "503": (529, "overloaded_error", "Overloaded"),
            "401": (401, "authentication_error", "invalid x-api-key"),
            "500": (500, "api_error", "Internal server error"),
        }
        if sc_eff in errs:
            code, typ, msg = errs[sc_eff]
            hdr = {"request-id": "req_mock_" + uuid.uuid4().hex[:12]}
            if code == 429:
                hdr["retry-after"] = "1"
            return self.send_json(code, {"type": "error", "error": {"type": typ, "message": msg}}, hdr)
        if sc_eff == "hang":
            return self.hang()
        model = body.get("model") or "claude-mock"
        msg_id = "msg_" + uuid.uuid4().hex[:20]
        if sc_eff == "tool" and not has_tool_result and "Bash" in tools:
            blocks = [("text", "I will list the files."), ("tool_use", {"command": TOOL_CMD, "description": "Create a marker file"})]
            stop = "tool_use"
        else:
            if sc_eff == "tool":
                text = FINAL_AFTER_TOOL
            elif sc_eff == "slow":
                text = SLOW_TEXT
            elif sc_eff == "ok_fast":
                text = "Mock title"
            else:
                text = OK_TEXT
            blocks = [("text", text)]
            stop = "end_turn"
        delay = 0 if sc_eff == "ok_fast" else STATE["delay"]
        usage = {"input_tokens": 20, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        if not stream:
            content = []
            for kind, val in blocks:
                if kind == "text":
                    content.append({"type": "text", "text": val})
                else:
                    content.append({"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:20], "name": "Bash", "input": val})
            return self.send_json(200, {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                                        "content": content, "stop_reason": stop, "stop_sequence": None,
                                        "usage": {**usage, "output_tokens": 10}})
        self.start_sse()
        self.sse("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage}})
        self.sse("ping", {"type": "ping"})
        for idx, (kind, val) in enumerate(blocks):
            if kind == "text":
                self.sse("content_block_start", {"type": "content_block_start", "index": idx,
                                                 "content_block": {"type": "text", "text": ""}})
                for piece in chunks(val):
                    time.sleep(delay)
                    self.sse("content_block_delta", {"type": "content_block_delta", "index": idx,
                                                     "delta": {"type": "text_delta", "text": piece}})
            else:
                self.sse("content_block_start", {"type": "content_block_start", "index": idx, "content_block": {
                    "type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:20], "name": "Bash", "input": {}}})
                time.sleep(delay)
                self.sse("content_block_delta", {"type": "content_block_delta", "index": idx,
                                                 "delta": {"type": "input_json_delta", "partial_json": json.dumps(val)}})
            self.sse("content_block_stop", {"type": "content_block_stop", "index": idx})
        self.sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                   "usage": {"output_tokens": 30}})
        self.sse("message_stop", {"type": "message_stop"})

    # ---------------------------------------------------------------- OpenAI Responses (Codex)
    def openai_responses(self, body, sc):
        tools = body.get("tools") or []
        names = [t.get("name") or t.get("type") for t in tools]
        items = body.get("input") or []
        has_output = any(isinstance(i, dict) and i.get("type") in ("function_call_output", "custom_tool_call_output",
                                                                   "local_shell_call_output") for i in items)
        # the tool result must be the newest thing: only count outputs after the last user message
        last_user = max([n for n, i in enumerate(items) if isinstance(i, dict) and i.get("role") == "user"], default=-1)
        has_output = any(isinstance(i, dict) and i.get("type", "").endswith("_output") for i in items[last_user + 1:])
        main = len(tools) > 0
        log("POST", self.path, f"responses model={body.get('model')} stream={body.get('stream')} tools={names} "
            f"items={len(items)} tool_output={has_output} scenario={sc}")
        users = [i for i in items if isinstance(i, dict) and i.get("role") == "user"]
        record("openai", body.get("model"), main, sc, text_of(users[-1].get("content")) if users else "", len(items))
        sc_eff = sc if (main or STATE["strict"]) else "ok_fast"
        sc_eff = {"429daily": "429", "400key": "401"}.get(sc_eff, sc_eff)
        errs = {
            "billing": (429, {"message": "You exceeded your current quota, please check your plan and billing "
                                         "details. For more information on this error, read the docs: "
                                         "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                              "type": "insufficient_quota", "code": "insufficient_quota"}),
            "429": (429, {"message": "Rate limit reached for requests. Please try again in 20s.",
                          "type": "requests", "code": "rate_limit_exceeded"}),
            "529": (503, {"message": "The server is overloaded or not ready yet.", "type": "server_error",
                          "code": "server_is_overloaded"}),
            "503": (503, {"message": "The server is overloaded or not ready yet.", "type": "server_error",
                          "code": "server_is_overloaded"}),
            "401": (401, {"message": "Incorrect API key provided: mock-key. You can find your API key at "
                                     "https://platform.openai.com/account/api-keys.",
                          "type": "invalid_request_error", "code": "invalid_api_key"}),
            "500": (500, {"message": "The server had an error while processing your request.",
                          "type": "server_error", "code": "server_error"}),
        }
        if sc_eff in errs:
            code, err = errs[sc_eff]
            hdr = {"x-request-id": "req_" + uuid.uuid4().hex[:12]}
            if code == 429:
                hdr["retry-after"] = "1"
            return self.send_json(code, {"error": {**err, "param": None}}, hdr)
        if sc_eff == "hang":
            return self.hang()
        resp_id = "resp_" + uuid.uuid4().hex[:20]
        model = body.get("model") or "gpt-mock"
        delay = 0 if sc_eff == "ok_fast" else STATE["delay"]
        base = {"id": resp_id, "object": "response", "created_at": int(time.time()), "model": model,
                "status": "in_progress", "output": []}
        self.start_sse()
        seq = [0]

        def ev(obj):
            obj["sequence_number"] = seq[0]
            seq[0] += 1
            self.sse(obj["type"], obj)

        ev({"type": "response.created", "response": base})
        ev({"type": "response.in_progress", "response": base})
        out_index = 0
        if sc_eff == "tool" and not has_output:
            call = self.codex_tool_call(tools)
            if call is not None:
                item = {"type": "function_call", "id": "fc_" + uuid.uuid4().hex[:16], "call_id": "call_" +
                        uuid.uuid4().hex[:16], "name": call[0], "arguments": "", "status": "in_progress"}
                ev({"type": "response.output_item.added", "output_index": 0, "item": item})
                time.sleep(delay)
                args = json.dumps(call[1])
                ev({"type": "response.function_call_arguments.delta", "item_id": item["id"], "output_index": 0,
                    "delta": args})
                ev({"type": "response.function_call_arguments.done", "item_id": item["id"], "output_index": 0,
                    "arguments": args})
                done = {**item, "arguments": args, "status": "completed"}
                ev({"type": "response.output_item.done", "output_index": 0, "item": done})
                ev({"type": "response.completed", "response": {**base, "status": "completed", "output": [done],
                    "usage": {"input_tokens": 20, "output_tokens": 10, "total_tokens": 30,
                              "input_tokens_details": {"cached_tokens": 0},
                              "output_tokens_details": {"reasoning_tokens": 0}}}})
                return
        if sc_eff == "tool":
            text = FINAL_AFTER_TOOL
        elif sc_eff == "slow":
            text = SLOW_TEXT
        elif sc_eff == "ok_fast":
            text = "Mock title"
        else:
            text = OK_TEXT
        msg_id = "msg_" + uuid.uuid4().hex[:20]
        item = {"type": "message", "id": msg_id, "role": "assistant", "status": "in_progress", "content": []}
        ev({"type": "response.output_item.added", "output_index": out_index, "item": item})
        ev({"type": "response.content_part.added", "item_id": msg_id, "output_index": out_index, "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []}})
        for piece in chunks(text):
            time.sleep(delay)
            ev({"type": "response.output_text.delta", "item_id": msg_id, "output_index": out_index,
                "content_index": 0, "delta": piece})
        ev({"type": "response.output_text.done", "item_id": msg_id, "output_index": out_index, "content_index": 0,
            "text": text})
        part = {"type": "output_text", "text": text, "annotations": []}
        ev({"type": "response.content_part.done", "item_id": msg_id, "output_index": out_index, "content_index": 0,
            "part": part})
        done = {**item, "status": "completed", "content": [part]}
        ev({"type": "response.output_item.done", "output_index": out_index, "item": done})
        ev({"type": "response.completed", "response": {**base, "status": "completed", "output": [done],
            "usage": {"input_tokens": 20, "output_tokens": 30, "total_tokens": 50,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 0}}}})

    @staticmethod
    def codex_tool_call(tools):
        """Pick Codex's shell tool and arguments that force an approval prompt."""
        by_name = {(t.get("name") or t.get("type")): t for t in tools}
        for name in ("exec_command", "shell_command", "shell"):
            t = by_name.get(name)
            if not t:
                continue
            props = ((t.get("parameters") or {}).get("properties") or {})
            if name == "exec_command":
                args = {"cmd": "ls -la"}
            elif name == "shell_command":
                args = {"command": "ls -la"}
            else:
                args = {"command": ["bash", "-lc", "ls -la"]}
            if "sandbox_permissions" in props:
                args["sandbox_permissions"] = "require_escalated"
                args["justification"] = "Mock wants to list the directory outside the sandbox."
            elif "with_escalated_permissions" in props:
                args["with_escalated_permissions"] = True
                args["justification"] = "Mock wants to list the directory outside the sandbox."
            return name, args
        return None

    # ---------------------------------------------------------------- Gemini
    def gemini(self, path, body, sc):
        stream = ":streamGenerateContent" in path
        tools = []
        for t in body.get("tools") or []:
            for fd in t.get("functionDeclarations") or t.get("function_declarations") or []:
                tools.append(fd.get("name"))
        contents = body.get("contents") or []
        last = contents[-1] if contents else {}
        has_fr = any("functionResponse" in p for p in last.get("parts") or [] if isinstance(p, dict))
        main = stream and len(tools) > 0
        model = path.split("/models/")[-1].split(":")[0] if "/models/" in path else "?"
        log("POST", self.path, f"gemini model={model} stream={stream} tools={len(tools)} contents={len(contents)} "
            f"functionResponse={has_fr} main={main} scenario={sc}")
        users = [c for c in contents if isinstance(c, dict) and c.get("role") == "user"]
        record("gemini", model, main, sc, text_of(users[-1].get("parts")) if users else "", len(contents))
        sc_eff = sc if (main or STATE["strict"]) else "ok_fast"
        errs = {
            "429": (429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
            "529": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
            "503": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
            "401": (401, "UNAUTHENTICATED", "API key not valid. Please pass a valid API key."),
            "500": (500, "INTERNAL", "An internal error has occurred. Please retry or report in "
                                     "https://developers.generativeai.google/guide/troubleshooting"),
        }
        if sc_eff == "400key":
            return self.send_json(400, {"error": {
                "code": 400, "status": "INVALID_ARGUMENT",
                "message": "API key not valid. Please pass a valid API key.",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                             "domain": "googleapis.com",
                             "metadata": {"service": "generativelanguage.googleapis.com"}},
                            {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                             "message": "API key not valid. Please pass a valid API key."}]}})
        if sc_eff in ("429daily", "billing"):
            return self.send_json(429, {"error": {
                "code": 429, "status": "RESOURCE_EXHAUSTED",
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}})
        if sc_eff in errs:
            code, status, msg = errs[sc_eff]
            return self.send_json(code, {"error": {"code": code, "message": msg, "status": status}})
        if sc_eff == "hang":
            return self.hang()
        usage = {"promptTokenCount": 20, "candidatesTokenCount": 10, "totalTokenCount": 30}
        if sc_eff == "ok_fast":
            # auxiliary calls (routing classifier, next-speaker check, ...) usually want JSON back
            want_json = (body.get("generationConfig") or {}).get("responseMimeType") == "application/json"
            if want_json:
                text = json.dumps({"reasoning": "mock", "model_choice": "flash", "next_speaker": "user",
                                   "complexity_reasoning": "mock", "complexity_score": 1})
            else:
                text = "Mock title"
            resp = {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                                    "finishReason": "STOP", "index": 0}], "usageMetadata": usage,
                    "modelVersion": model}
            if not stream:
                return self.send_json(200, resp)
            self.start_sse()
            self.sse(None, resp)
            return
        if sc_eff == "tool" and not has_fr and "run_shell_command" in tools:
            parts_seq = [[{"text": "I will list the files."}],
                         [{"functionCall": {"name": "run_shell_command",
                                            "args": {"command": TOOL_CMD, "description": "Create a marker file"}}}]]
        else:
            text = FINAL_AFTER_TOOL if sc_eff == "tool" else SLOW_TEXT if sc_eff == "slow" else OK_TEXT
            parts_seq = [[{"text": p}] for p in chunks(text)]
        if not stream:
            allparts = [p for ps in parts_seq for p in ps]
            return self.send_json(200, {"candidates": [{"content": {"parts": allparts, "role": "model"},
                                                        "finishReason": "STOP", "index": 0}],
                                        "usageMetadata": usage, "modelVersion": model})
        self.start_sse()
        for i, parts in enumerate(parts_seq):
            time.sleep(STATE["delay"])
            cand = {"content": {"parts": parts, "role": "model"}, "index": 0}
            obj = {"candidates": [cand], "modelVersion": model}
            if i == len(parts_seq) - 1:
                cand["finishReason"] = "STOP"
                obj["usageMetadata"] = usage
            self.sse(None, obj)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--scenario", default="ok")
    ap.add_argument("--delay", type=float, default=0.3, help="seconds between streamed chunks")
    ap.add_argument("--strict-errors", action="store_true", help="error scenarios also fail auxiliary calls")
    ap.add_argument("--port-file", help="also write the chosen port to this file")
    ap.add_argument("--request-log", help="append each model request (JSON line) to this file")
    a = ap.parse_args()
    STATE.update(scenario=a.scenario, delay=a.delay, strict=a.strict_errors, request_log=a.request_log)
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    port = srv.server_address[1]
    print(f"PORT {port}", flush=True)
    if a.port_file:
        with open(a.port_file, "w") as f:
            f.write(str(port))
    log(f"mock listening on 127.0.0.1:{port} scenario={a.scenario} delay={a.delay}")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
