-- A Lua workload: recursion, tables, strings, closures, sorting, string patterns, math.
-- SCALE (set by the driver) sizes it: 1 for timing, smaller for counting instructions.
local S = SCALE or 1
local function scaled(x) return math.max(1, math.floor(x * S)) end
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print("fib", fib(S >= 1 and 32 or 22))

local t = {}
local seed = 42
for i = 1, scaled(600000) do
  seed = (seed * 1103515245 + 12345) % 2147483648
  t[i] = seed % 100000
end
table.sort(t)
print("sorted", t[1], t[#t // 2], t[#t])

local words, counts = {}, {}
for i = 1, scaled(60000) do
  local w = string.format("w%d_%s", i % 997, string.rep("x", i % 5))
  words[#words + 1] = w
  counts[w] = (counts[w] or 0) + 1
end
local keys = {}
for k in pairs(counts) do keys[#keys + 1] = k end
table.sort(keys)
print("distinct", #keys, keys[1], keys[#keys], counts[keys[10]])

local s = table.concat(words, " ", 1, math.min(#words, 20000))
local n = 0
for a, b in s:gmatch("w(%d+)_(x*)") do n = n + tonumber(a) + #b end
print("gmatch", n, #s, s:find("w500_", 1, true))

local function counter()
  local c = 0
  return function() c = c + 1; return c end
end
local cs = {}
for i = 1, 1000 do cs[i] = counter() end
local total = 0
for r = 1, scaled(200) do for i = 1, 1000 do total = total + cs[i]() end end
print("closures", total)

local acc = 0.0
for i = 1, scaled(3000000) do acc = acc + math.sin(i) * math.sqrt(i) / (1 + (i % 7)) end
print("math", string.format("%.6f", acc))

local co = coroutine.wrap(function() for i = 1, scaled(100000) do coroutine.yield(i) end end)
local sum = 0
for _ = 1, scaled(100000) do sum = sum + co() end
print("coroutines", sum)
