-- wrk script: small PUT updates spread over the simulator's seeded calls.
-- The same request tdrecon sends for a row that sets revenue.
local first, count = 100000001, 10000
local n = 0
request = function()
  n = n + 1
  local id = first + (n % count)
  return wrk.format("PUT", "/api/v1/calls/" .. id,
    { ["Content-Type"] = "application/json", ["Authorization"] = "Basic YmVuY2g6YmVuY2g=" },
    '{"revenue":"12.50"}')
end
