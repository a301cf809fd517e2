-- waf: the bench filter's four rules with Lua patterns instead of regexes (Lua has none).
-- Query: SQL-injection tautology (' OR / ' AND) and UNION SELECT, case-insensitive, with
-- %20 and + standing for spaces; path: ../ in plain or percent-encoded form; headers: scanner
-- user agents in any header value. First match answers 403 and names the rule; clean requests
-- go on with x-waf: clean.

local function spaces(s)
  return (s:gsub("%%20", " "):gsub("%+", " "))
end

local function rule_for(path, headers)
  local target, query = path:match("^([^?]*)%??(.*)$")
  local q = spaces(query:lower())
  if q:find("'%s*or%s") or q:find("'%s*and%s") then
    return "sqli-tautology"
  end
  if q:find("union%s+select") then
    return "sqli-union"
  end
  local p = target:lower()
  if p:find("../", 1, true) or p:find("%2e%2e%2f", 1, true) or p:find("..%2f", 1, true) then
    return "path-traversal"
  end
  for _, value in pairs(headers) do
    local v = value:lower()
    if v:find("sqlmap", 1, true) or v:find("nikto", 1, true) or v:find("nmap", 1, true) then
      return "scanner-agent"
    end
  end
  return nil
end

function envoy_on_request(request_handle)
  local headers = request_handle:headers()
  local values = {}
  for key, value in pairs(headers) do
    if key:sub(1, 1) ~= ":" then
      values[#values + 1] = value
    end
  end
  local rule = rule_for(headers:get(":path") or "", values)
  if rule then
    request_handle:respond({[":status"] = "403", ["x-waf-rule"] = rule}, "blocked by " .. rule .. "\n")
    return
  end
  headers:replace("x-waf", "clean")
end
