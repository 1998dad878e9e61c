-- Ostiary forward auth for HAProxy 2.6 and later (docs/proxies/haproxy.md).
--
-- Uses only HAProxy's own core.httpclient: no third-party Lua library.
-- Load it in the global section:   lua-load /etc/haproxy/ostiary_forward_auth.lua
-- and call it in an app's backend (the generated snippet does):
--   http-request lua.ostiary-check <check URL> <portal host> <identity headers, comma-separated or "-">
--
-- For each request it asks Ostiary's /forward-auth/check with the original
-- request's method, host, URI, cookies and request-kind headers:
--   * 2xx: sets the app's identity headers from Ostiary's answer (empty when
--     Ostiary sent none), removes the forward-auth cookie from the Cookie
--     header, and sets txn.ostiary_allowed so the backend lets it through;
--   * anything else (the 302 to sign in, 401, 403, 5xx): replies to the
--     browser with Ostiary's status, Location headers and body;
--   * Ostiary unreachable or an error in this script: replies 503, and the
--     backend's "deny unless txn.ostiary_allowed" refuses it even if this
--     script is not loaded at all (fail closed).

local FORWARD_AUTH_COOKIE = "_ostiary_fa"
-- Request headers Ostiary reads to decide between a redirect and 401 (besides Cookie).
local REQUEST_KIND = { "accept", "sec-fetch-mode", "x-requested-with" }
-- Response headers relayed to the browser with a refusal (the 403 page's own
-- content security policy and framing rules among them: docs/contract.md §3).
local RELAYED = { "location", "x-ostiary-location", "content-type", "cache-control", "content-security-policy",
                  "x-content-type-options", "x-frame-options", "referrer-policy" }
local TIMEOUT_MS = 5000

local function first(values)
  if values == nil then return nil end
  -- Request headers from HAProxy are indexed from 0, httpclient's from 1.
  if values[0] ~= nil then return values[0] end
  return values[1]
end

local function all(values)
  local out = {}
  if values == nil then return out end
  local i = values[0] ~= nil and 0 or 1
  while values[i] ~= nil do
    out[#out + 1] = values[i]
    i = i + 1
  end
  return out
end

-- The Cookie header without the forward-auth cookie; nil when nothing is left.
local function without_forward_auth_cookie(cookie_headers)
  local kept = {}
  for _, header in ipairs(cookie_headers) do
    for pair in string.gmatch(header, "[^;]+") do
      local trimmed = pair:match("^%s*(.-)%s*$")
      local name = trimmed:match("^([^=]*)=")
      if trimmed ~= "" and name ~= FORWARD_AUTH_COOKIE then
        kept[#kept + 1] = trimmed
      end
    end
  end
  if #kept == 0 then return nil end
  return table.concat(kept, "; ")
end

-- A reply of our own (txn:done ends the Lua run, so it is only called outside pcall).
local function plain(status, body)
  return { status = status, headers = { ["content-type"] = { "text/plain; charset=utf-8" },
                                        ["cache-control"] = { "no-store" } }, body = body }
end

-- nil when the request may pass, else the reply for the browser.
local function check(txn, check_url, portal_host, identity)
  local headers = txn.http:req_get_headers()
  local host = first(headers["host"])
  local cookies = all(headers["cookie"])
  local tls = txn.f:ssl_fc()  -- a boolean or 1/0, depending on the HAProxy version
  local scheme = (tls == true or tls == 1) and "https" or "http"
  local ask = {
    ["host"] = { portal_host },
    ["x-forwarded-proto"] = { scheme },
    ["x-forwarded-host"] = { host or "" },
    ["x-forwarded-uri"] = { txn.sf:pathq() },
    ["x-forwarded-method"] = { txn.sf:method() },
    ["x-forwarded-for"] = { txn.sf:src() },
  }
  if #cookies > 0 then ask["cookie"] = { table.concat(cookies, "; ") } end
  for _, name in ipairs(REQUEST_KIND) do
    local value = first(headers[name])
    if value ~= nil then ask[name] = { value } end
  end

  local client = core.httpclient()
  local ok, answer = pcall(client.get, client, { url = check_url, headers = ask, timeout = TIMEOUT_MS })
  if not ok or answer == nil or answer.status == nil or answer.status == 0 then
    txn:Warning("ostiary: no answer from " .. check_url .. ": " .. tostring(answer))
    return plain(503, "Ostiary is unavailable\n")
  end
  local status = tonumber(answer.status)
  if status < 200 or status > 299 then
    local relayed = {}
    for _, name in ipairs(RELAYED) do
      local value = first(answer.headers and answer.headers[name])
      if value ~= nil then relayed[name] = { value } end
    end
    return { status = status, headers = relayed, body = answer.body or "" }
  end

  if identity ~= "-" then
    for name in string.gmatch(identity, "[^,]+") do
      local value = first(answer.headers and answer.headers[name:lower()]) or ""
      txn.http:req_set_header(name, value)
    end
  end
  local cookie = without_forward_auth_cookie(cookies)
  txn.http:req_del_header("cookie")
  if cookie ~= nil then txn.http:req_set_header("cookie", cookie) end
  return nil
end

core.register_action("ostiary-check", { "http-req" }, function(txn, check_url, portal_host, identity)
  txn:set_var("txn.ostiary_allowed", false)
  local ok, reply = pcall(check, txn, check_url, portal_host, identity)
  if not ok then
    txn:Alert("ostiary: forward auth failed: " .. tostring(reply))
    reply = plain(500, "error\n")
  end
  if reply ~= nil then
    txn:done(reply)
  end
  txn:set_var("txn.ostiary_allowed", true)
end, 3)
