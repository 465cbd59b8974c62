// The playground: builds a native request from the form, sends it to this gateway with
// the pasted keys, and shows the unified SSE stream (or the JSON envelope) as it comes.
// Keys live in sessionStorage only and go only to this origin (fetch to a relative URL,
// and the page's CSP allows connect-src 'self' alone). Text is always set with
// textContent, never as HTML.
"use strict";

(function () {
  const STORE = { proxy: "unigate.proxyKey", provider: "unigate.providerKey" };
  const $ = (selector, root) => (root || document).querySelector(selector);
  let messageCount = 0;
  let running = null;
  let codeLanguage = "curl";

  function show(element, visible) { element.hidden = !visible; }

  function keys() {
    return { proxy: $("#proxy-key").value.trim(), provider: $("#provider-key").value.trim() };
  }

  function authHeaders() {
    const { proxy, provider } = keys();
    const headers = { Authorization: "Key " + proxy };
    if (provider) headers["Provider-Key"] = provider;
    return headers;
  }

  // --- keys in session storage -------------------------------------------------------
  function restoreKeys() {
    $("#proxy-key").value = sessionStorage.getItem(STORE.proxy) || "";
    $("#provider-key").value = sessionStorage.getItem(STORE.provider) || "";
    for (const [id, name] of [["#proxy-key", STORE.proxy], ["#provider-key", STORE.provider]]) {
      $(id).addEventListener("input", (event) => {
        const value = event.target.value.trim();
        if (value) sessionStorage.setItem(name, value); else sessionStorage.removeItem(name);
      });
    }
    $("#forget-keys").addEventListener("click", () => {
      sessionStorage.removeItem(STORE.proxy);
      sessionStorage.removeItem(STORE.provider);
      $("#proxy-key").value = "";
      $("#provider-key").value = "";
    });
  }

  // --- the catalogue -------------------------------------------------------------------
  let catalogue = new Map();

  async function loadCatalogue() {
    const info = $("#model-info");
    if (!keys().proxy) { info.textContent = "Paste a proxy key first."; return; }
    info.textContent = "Loading the catalogue…";
    try {
      const response = await fetch("/models/v2/list/models", { headers: authHeaders() });
      const body = await response.json();
      if (!response.ok) { info.textContent = "Catalogue: " + (body.error || response.status); return; }
      const options = $("#model-options");
      options.replaceChildren();
      catalogue = new Map();
      for (const entry of body.output) {
        catalogue.set(entry.modelId, entry);
        const option = document.createElement("option");
        option.value = entry.modelId;
        option.label = entry.modelId + " (" + entry.task + ")";
        options.append(option);
      }
      info.textContent = body.output.length + " models; type to filter, or any id your routes take.";
      describeModel();
    } catch (error) {
      info.textContent = "Catalogue: " + error;
    }
  }

  function describeModel() {
    const entry = catalogue.get($("#model").value.trim());
    if (!entry) return;
    const parts = [entry.task, entry.provider || (entry.pool && "pool " + entry.pool)];
    if (entry.meter) parts.push("meter " + entry.meter);
    if (entry.meterPrice !== undefined) parts.push("$" + entry.meterPrice + "/s");
    if (entry.contextSize) parts.push(entry.contextSize + " tokens of context");
    if (entry.capabilities) parts.push(entry.capabilities.join(", "));
    $("#model-info").textContent = parts.filter(Boolean).join(" · ");
  }

  // --- messages ------------------------------------------------------------------------
  function addMessage(role, text) {
    const row = $("#message-template").content.firstElementChild.cloneNode(true);
    const number = ++messageCount;
    for (const [selector, name] of [
      [".message-role", "role"], [".message-text", "text"],
      [".message-image-url", "image-url"], [".message-image-file", "image-file"],
    ]) {
      const control = $(selector, row);
      control.id = "message-" + number + "-" + name;
      control.closest(".field").querySelector("label").htmlFor = control.id;
    }
    $(".message-role", row).value = role;
    $(".message-text", row).value = text || "";
    $(".message-role", row).addEventListener("change", () => imageFields(row));
    $(".message-image-file", row).addEventListener("change", (event) => readImage(row, event.target.files[0]));
    $(".remove-message", row).addEventListener("click", () => { row.remove(); renderCode(); });
    $(".remove-message", row).setAttribute("aria-label", "Remove message " + number);
    imageFields(row);
    $("#messages").append(row);
    return row;
  }

  function imageFields(row) {
    const isUser = $(".message-role", row).value === "user";
    for (const field of row.querySelectorAll(".field.image")) show(field, isUser);
  }

  function readImage(row, file) {
    const preview = $(".message-preview", row);
    delete row.dataset.image;
    show(preview, false);
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => {
      row.dataset.image = reader.result;
      preview.src = reader.result;
      preview.alt = "Uploaded image: " + file.name;
      show(preview, true);
      renderCode();
    };
    reader.readAsDataURL(file);
  }

  function messages(forCode) {
    const list = [];
    for (const row of document.querySelectorAll("#messages .message")) {
      const role = $(".message-role", row).value;
      const text = $(".message-text", row).value;
      const url = role === "user" ? $(".message-image-url", row).value.trim() : "";
      const upload = role === "user" ? row.dataset.image : undefined;
      if (!url && !upload) { if (text) list.push({ role, content: text }); continue; }
      const content = [];
      if (text) content.push({ type: "text", text });
      if (url) content.push({ type: "image", url });
      if (upload) content.push({ type: "image", base64: forCode ? "data:image/…;base64,…" : upload });
      list.push({ role, content });
    }
    return list;
  }

  // --- the body ------------------------------------------------------------------------
  class FormProblem extends Error {}

  function number(id, name) {
    const text = $(id).value.trim();
    if (!text) return undefined;
    const value = Number(text);
    if (!Number.isFinite(value)) throw new FormProblem(name + " must be a number");
    return value;
  }

  function json(id, name, kind) {
    const text = $(id).value.trim();
    if (!text) return undefined;
    let value;
    try { value = JSON.parse(text); } catch (error) { throw new FormProblem(name + " is not valid JSON"); }
    const ok = kind === "array" ? Array.isArray(value) : value && typeof value === "object" && !Array.isArray(value);
    if (!ok) throw new FormProblem(name + " must be a JSON " + kind);
    return value;
  }

  function requestBody(forCode) {
    const body = { messages: messages(forCode), stream: $("#stream").checked };
    const params = Object.assign({}, json("#extra-params", "More params", "object"));
    const maxTokens = number("#max-tokens", "Max tokens");
    const temperature = number("#temperature", "Temperature");
    const topP = number("#top-p", "Top p");
    if (maxTokens !== undefined) params.max_tokens = maxTokens;
    if (temperature !== undefined) params.temperature = temperature;
    if (topP !== undefined) params.top_p = topP;
    if (Object.keys(params).length) body.params = params;
    const tools = json("#tools", "Tools", "array");
    if (tools) body.tools = tools;
    return body;
  }

  // --- showing an answer ---------------------------------------------------------------
  const facts = {
    requestId: "#fact-request-id", model: "#fact-model", provider: "#fact-provider", finish: "#fact-finish",
    usage: "#fact-usage", meter: "#fact-meter", meterPrice: "#fact-meter-price", time: "#fact-time",
    cost: "#fact-cost", warnings: "#fact-warnings",
  };

  function setFact(name, value) { $(facts[name]).textContent = value === undefined || value === null ? "-" : String(value); }

  function resetAnswer() {
    $("#answer").textContent = "";
    $("#reasoning").textContent = "";
    $("#tool-calls").replaceChildren();
    show($("#reasoning-box"), false);
    show($("#tool-calls-box"), false);
    show($("#answer-error"), false);
    show($("#answer-facts"), false);
    for (const name of Object.keys(facts)) setFact(name, name === "warnings" ? "none" : "-");
  }

  function showError(message, code) {
    const box = $("#answer-error");
    box.textContent = code ? message + " (" + code + ")" : message;
    show(box, true);
  }

  function usageText(usage) {
    const parts = [usage.input_tokens + " in", usage.output_tokens + " out"];
    if (usage.cached_input_tokens) parts.push(usage.cached_input_tokens + " cached");
    if (usage.reasoning_tokens) parts.push(usage.reasoning_tokens + " reasoning");
    if (usage.cache_write_input_tokens) parts.push(usage.cache_write_input_tokens + " cache-written");
    return parts.join(", ") + " tokens";
  }

  function showBilling(billing) {
    setFact("meter", billing.meter);
    setFact("meterPrice", billing.meter_price === null ? "no price" : "$" + billing.meter_price + "/s");
    setFact("time", billing.inference_time.toFixed(3) + " s");
    setFact("cost", billing.cost === null ? "no price configured" : "$" + billing.cost.toFixed(8).replace(/0+$/, "").replace(/\.$/, ""));
  }

  function showWarnings(warnings) { if (warnings && warnings.length) setFact("warnings", warnings.join("; ")); }

  function toolCall(index, id, name) {
    show($("#tool-calls-box"), true);
    let item = document.getElementById("tool-call-" + index);
    if (!item) {
      item = document.createElement("li");
      item.id = "tool-call-" + index;
      const title = document.createElement("p");
      title.className = "tool-name";
      const args = document.createElement("pre");
      args.className = "tool-arguments";
      item.append(title, args);
      $("#tool-calls").append(item);
    }
    if (name !== undefined) $(".tool-name", item).textContent = name + (id ? "  (" + id + ")" : "");
    return item;
  }

  function showEnvelope(body) {
    const output = body.output || {};
    const content = output.content;
    if (typeof content === "string") $("#answer").textContent = content;
    else if (Array.isArray(content)) $("#answer").textContent = content.map((part) => part.text || "").join("");
    for (const part of output.reasoning || []) {
      show($("#reasoning-box"), true);
      $("#reasoning").textContent += part.text || "";
    }
    (output.tool_calls || []).forEach((call, index) => {
      const item = toolCall(index, call.id, call.function.name);
      $(".tool-arguments", item).textContent = call.function.arguments;
    });
    setFact("model", body.model);
    setFact("finish", body.finish_reason);
    setFact("usage", usageText(body.usage));
    showBilling(body.billing);
    showWarnings(body.warnings);
  }

  function handleEvent(kind, data) {
    switch (kind) {
      case "start": setFact("model", data.model); setFact("provider", data.provider); showWarnings(data.warnings); break;
      case "text_delta": $("#answer").textContent += data.text; break;
      case "reasoning_delta": show($("#reasoning-box"), true); $("#reasoning").textContent += data.text; break;
      case "tool_call_start": toolCall(data.index, data.id, data.name); break;
      case "tool_call_delta": $(".tool-arguments", toolCall(data.index)).textContent += data.arguments; break;
      case "usage": setFact("usage", usageText(data)); break;
      case "finish": setFact("finish", data.reason + (data.raw_reason ? " (" + data.raw_reason + ")" : "")); break;
      case "billing": showBilling(data); break;
      case "error": showError(data.message, data.code); break;
      default: break;
    }
  }

  async function readStream(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let done = false;
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let kind = "message";
        const data = [];
        for (const line of frame.split("\n")) {
          if (line.startsWith("event:")) kind = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (!data.length) continue;  // a ": ping" comment
        if (kind === "done") { done = true; continue; }
        handleEvent(kind, JSON.parse(data.join("\n")));
      }
    }
    return done;
  }

  async function send(event) {
    event.preventDefault();
    const problem = $("#form-problem");
    show(problem, false);
    let body;
    try {
      if (!keys().proxy) throw new FormProblem("Paste a proxy key first.");
      if (!$("#model").value.trim()) throw new FormProblem("Pick a model.");
      body = requestBody(false);
      if (!body.messages.length) throw new FormProblem("Write a message.");
    } catch (error) {
      if (!(error instanceof FormProblem)) throw error;
      problem.textContent = error.message;
      show(problem, true);
      return;
    }
    resetAnswer();
    const state = $("#answer-state");
    const controller = new AbortController();
    running = controller;
    $("#send").disabled = true;
    $("#stop").disabled = false;
    state.textContent = body.stream ? "Streaming…" : "Waiting for the answer…";
    const started = performance.now();
    try {
      const headers = Object.assign({ "Content-Type": "application/json" }, authHeaders());
      if (body.stream) headers.Accept = "text/event-stream";
      const model = $("#model").value.trim();
      const response = await fetch("/models/v2/" + model.split("/").map(encodeURIComponent).join("/"), {
        method: "POST", headers, body: JSON.stringify(body), signal: controller.signal,
      });
      show($("#answer-facts"), true);
      setFact("requestId", response.headers.get("X-Request-Id"));
      const type = response.headers.get("Content-Type") || "";
      if (type.startsWith("text/event-stream")) {
        const complete = await readStream(response);
        if (!complete && !$("#answer-error").textContent) showError("The stream ended without its done event: it was cut.");
      } else {
        const envelope = await response.json();
        if (!response.ok || envelope.error) showError(envelope.error || "HTTP " + response.status, envelope.code);
        else showEnvelope(envelope);
      }
      state.textContent = "Done in " + ((performance.now() - started) / 1000).toFixed(2) + " s (HTTP " + response.status + ").";
    } catch (error) {
      state.textContent = controller.signal.aborted ? "Stopped." : "Failed.";
      if (!controller.signal.aborted) showError(String(error));
    } finally {
      running = null;
      $("#send").disabled = false;
      $("#stop").disabled = true;
    }
  }

  // --- show code -----------------------------------------------------------------------
  function pythonLiteral(value, indent) {
    const pad = "    ".repeat(indent + 1);
    const close = "    ".repeat(indent);
    if (value === null || value === undefined) return "None";
    if (value === true) return "True";
    if (value === false) return "False";
    if (typeof value === "number") return String(value);
    if (typeof value === "string") return JSON.stringify(value);
    if (Array.isArray(value)) {
      if (!value.length) return "[]";
      return "[\n" + value.map((item) => pad + pythonLiteral(item, indent + 1)).join(",\n") + ",\n" + close + "]";
    }
    const entries = Object.entries(value);
    if (!entries.length) return "{}";
    return "{\n" + entries.map(([key, item]) => pad + JSON.stringify(key) + ": " + pythonLiteral(item, indent + 1)).join(",\n") + ",\n" + close + "}";
  }

  function openaiMessages(list) {
    return list.map((message) => {
      if (typeof message.content === "string") return message;
      return {
        role: message.role,
        content: message.content.map((part) => part.type === "text" ? part : { type: "image_url", image_url: { url: part.url || part.base64 } }),
      };
    });
  }

  function code(language) {
    let body;
    try { body = requestBody(true); } catch (error) { return "# " + error.message; }
    const model = $("#model").value.trim() || "MODEL_ID";
    const origin = window.location.origin;
    const url = origin + "/models/v2/" + model;
    const vendorKey = Boolean(keys().provider) || !catalogue.has(model) || Boolean((catalogue.get(model) || {}).provider);
    const pretty = JSON.stringify(body, null, 2);
    if (language === "curl") {
      const lines = ["curl " + (body.stream ? "-N " : "") + url + " \\", '  -H "Authorization: Key $UNIGATE_KEY" \\'];
      if (vendorKey) lines.push('  -H "Provider-Key: $PROVIDER_KEY" \\');
      lines.push('  -H "Content-Type: application/json" \\');
      if (body.stream) lines.push('  -H "Accept: text/event-stream" \\');
      lines.push("  -d '" + pretty.replace(/'/g, "'\\''") + "'");
      return lines.join("\n");
    }
    if (language === "python") {
      const headers = ['    "Authorization": f"Key {os.environ[\'UNIGATE_KEY\']}",'];
      if (vendorKey) headers.push('    "Provider-Key": os.environ["PROVIDER_KEY"],');
      if (body.stream) headers.push('    "Accept": "text/event-stream",');
      const lines = ["import json", "import os", "", "import httpx", "", "body = " + pythonLiteral(body, 0),
        "headers = {", ...headers, "}", ""];
      if (body.stream) {
        lines.push("with httpx.stream(\"POST\", " + JSON.stringify(url) + ", json=body, headers=headers, timeout=120) as response:",
          "    event = None", "    for line in response.iter_lines():",
          "        if line.startswith(\"event: \"):", "            event = line[7:]",
          "        elif line.startswith(\"data: \") and event == \"text_delta\":",
          "            print(json.loads(line[6:])[\"text\"], end=\"\", flush=True)");
      } else {
        lines.push("answer = httpx.post(" + JSON.stringify(url) + ", json=body, headers=headers, timeout=120).json()",
          "print(answer[\"output\"][\"content\"], answer[\"billing\"])");
      }
      return lines.join("\n");
    }
    if (language === "openai") {
      const extra = {};
      if (body.params) Object.assign(extra, body.params);
      const args = ["    model=" + JSON.stringify(model) + ",", "    messages=" + pythonLiteral(openaiMessages(body.messages), 1) + ","];
      for (const [name, value] of Object.entries(extra)) args.push("    " + name + "=" + pythonLiteral(value, 1) + ",");
      if (body.tools) args.push("    tools=" + pythonLiteral(body.tools, 1) + ",");
      if (body.stream) args.push("    stream=True,", "    stream_options={\"include_usage\": True},");
      const lines = ["import os", "", "from openai import OpenAI", "", "client = OpenAI(",
        "    base_url=" + JSON.stringify(origin + "/v1") + ",", "    api_key=os.environ[\"UNIGATE_KEY\"],"];
      if (vendorKey) lines.push("    default_headers={\"Provider-Key\": os.environ[\"PROVIDER_KEY\"]},");
      lines.push(")", (body.stream ? "stream" : "completion") + " = client.chat.completions.create(", ...args, ")");
      if (body.stream) lines.push("for chunk in stream:", "    if chunk.choices and chunk.choices[0].delta.content:",
        "        print(chunk.choices[0].delta.content, end=\"\", flush=True)");
      else lines.push("print(completion.choices[0].message.content)");
      return lines.join("\n");
    }
    const headers = ["    Authorization: `Key ${process.env.UNIGATE_KEY}`,", '    "Content-Type": "application/json",'];
    if (vendorKey) headers.push('    "Provider-Key": process.env.PROVIDER_KEY,');
    if (body.stream) headers.push('    Accept: "text/event-stream",');
    const lines = ["const response = await fetch(" + JSON.stringify(url) + ", {", '  method: "POST",', "  headers: {",
      ...headers.map((line) => "  " + line), "  },", "  body: JSON.stringify(" + pretty.replace(/\n/g, "\n  ") + "),", "});"];
    if (body.stream) {
      lines.push("const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();",
        "let buffer = \"\";", "for (;;) {", "  const { value, done } = await reader.read();", "  if (done) break;",
        "  buffer += value;", "  let end;", "  while ((end = buffer.indexOf(\"\\n\\n\")) >= 0) {",
        "    const frame = buffer.slice(0, end);", "    buffer = buffer.slice(end + 2);",
        "    const data = frame.split(\"\\n\").find((line) => line.startsWith(\"data: \"));",
        "    if (frame.startsWith(\"event: text_delta\") && data) process.stdout.write(JSON.parse(data.slice(6)).text);",
        "  }", "}");
    } else {
      lines.push("const answer = await response.json();", "console.log(answer.output.content, answer.billing);");
    }
    return lines.join("\n");
  }

  function renderCode() { $("#code").textContent = code(codeLanguage); }

  function selectTab(tab) {
    for (const other of document.querySelectorAll("[role=tab]")) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
    }
    $("#code-panel").setAttribute("aria-labelledby", tab.id);
    codeLanguage = tab.dataset.lang;
    renderCode();
  }

  function setUpTabs() {
    const tabs = Array.from(document.querySelectorAll("[role=tab]"));
    tabs.forEach((tab, position) => {
      tab.addEventListener("click", () => selectTab(tab));
      tab.addEventListener("keydown", (event) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (step === undefined) return;
        const next = tabs[(position + step + tabs.length) % tabs.length];
        next.focus();
        selectTab(next);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    restoreKeys();
    addMessage("system", "You are a helpful assistant.");
    addMessage("user", "");
    $("#add-message").addEventListener("click", () => $(".message-text", addMessage("user", "")).focus());
    $("#load-models").addEventListener("click", loadCatalogue);
    $("#model").addEventListener("change", describeModel);
    $("#playground").addEventListener("submit", send);
    $("#playground").addEventListener("input", renderCode);
    $("#playground").addEventListener("change", renderCode);
    $("#stop").addEventListener("click", () => { if (running) running.abort(); });
    setUpTabs();
    renderCode();
    if (keys().proxy) loadCatalogue();
  });
})();
