-- wrk: POST a realistic snippet batch (a page view and the cart) to the collector, each
-- request from a new visitor, as on a shop with many visitors (one visitor's requests would
-- all wait on the same cart row).
local template = os.getenv("RELANCE_BATCH")
local run = os.getenv("RELANCE_RUN") or "0"
local threads = 0
local counter = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  prefix = string.format("r%s-t%d-", run, tid)
end

function request()
  counter = counter + 1
  local vid = prefix .. string.format("%020d", counter)
  local body = template:gsub("VISITOR_ID", vid)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "text/plain;charset=UTF-8",
    ["Origin"] = "http://127.0.0.1",
  }, body)
end
