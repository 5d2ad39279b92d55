--- Client-side pacing for bulk calls: a token bucket per endpoint family,
-- so a sweep stays under Graph's quotas instead of being throttled.
-- Defaults follow Microsoft's published limits (docs/wire.md §7):
-- presence 1,500 requests per 30 s per app per tenant; directory reads
-- about 3,500 resource units per 10 s for a small tenant (1 unit a GET).
local check = require "graph.check"

local M = {}

M.defaults = {
  presence = { requests = 1500, per = 30 },
  directory = { requests = 3500, per = 10 },
}

local Bucket = {}
Bucket.__index = Bucket

-- clock: the client's driver (now, sleep).
local function bucket(limit, clock)
  return setmetatable({ capacity = limit.requests, rate = limit.requests / limit.per,
                        tokens = limit.requests, stamp = clock:now(), clock = clock }, Bucket)
end

function Bucket:refill()
  local now = self.clock:now()
  self.tokens = math.min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
  self.stamp = now
end

--- Take up to `want` tokens, waiting for at least one; returns how many.
function Bucket:take(want)
  self:refill()
  if self.tokens < 1 then
    self.clock:sleep((1 - self.tokens) / self.rate)
    self:refill()
  end
  local n = math.min(want, math.floor(self.tokens))
  self.tokens = self.tokens - n
  return n
end

local Pacer = {}
Pacer.__index = Pacer

--- `opts`: false (no pacing), nil (defaults), or { family = { requests =, per = } | false };
-- `clock`: the client's driver, whose now and sleep pacing uses.
function M.new(opts, clock)
  local limits = {}
  if opts ~= false then
    for family, limit in pairs(M.defaults) do limits[family] = limit end
    for family, limit in pairs(opts or {}) do
      if limit ~= false then
        if type(limit) ~= "table" or type(limit.requests) ~= "number" or limit.requests < 1
           or type(limit.per) ~= "number" or limit.per <= 0 then
          check.raise(("graph.client: field 'pacing.%s' must be { requests = n >= 1, per = " ..
            "seconds > 0 } or false"):format(tostring(family)))
        end
      end
      limits[family] = limit or nil
    end
  end
  return setmetatable({ limits = limits, buckets = {}, clock = clock }, Pacer)
end

--- How many of `want` requests of `family` may go now (at least 1, after
-- waiting if the bucket is empty); unpaced families get them all.
function Pacer:admit(family, want)
  local limit = self.limits[family]
  if not limit then return want end
  local b = self.buckets[family]
  if not b then
    b = bucket(limit, self.clock)
    self.buckets[family] = b
  end
  return b:take(want)
end

return M
