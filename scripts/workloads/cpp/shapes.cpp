// A small C++ program for llpar's tests: what C++ hands LLVM and C does not. Static
// constructors and destructors (`.init_array`), templates and inline functions in comdats
// (`linkonce_odr`), virtual calls, exceptions, function-local statics, std::string, std::map and
// std::function. It prints a checksum line that the serial build and llpar's must agree on.
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Runs before main: the program is wrong if static constructors do not run.
const std::string kPrefix = "shape:";
std::map<std::string, int> registry;

struct Registrar {
  Registrar(const char *name, int sides) { registry[kPrefix + name] = sides; }
};
Registrar triangle_entry("triangle", 3), square_entry("square", 4), hexagon_entry("hexagon", 6);

struct Shape {
  virtual ~Shape() = default;
  virtual double area() const = 0;
  virtual std::string name() const = 0;
};

struct Rect : Shape {
  double w, h;
  Rect(double w, double h) : w(w), h(h) {}
  double area() const override { return w * h; }
  std::string name() const override { return "rect"; }
};

struct Circle : Shape {
  double r;
  explicit Circle(double r) : r(r) {}
  double area() const override { return 3.14159265358979 * r * r; }
  std::string name() const override { return "circle"; }
};

template <typename T> T clamp_sum(const std::vector<T> &values, T limit) {
  T sum{};
  for (const T &v : values) {
    if (sum + v > limit)
      throw std::overflow_error("sum over limit at " + std::to_string(sum));
    sum += v;
  }
  return sum;
}

int &counter() {
  static int calls = 0; // a function-local static, guarded
  return ++calls, calls;
}

std::unique_ptr<Shape> make(int i) {
  if (i % 3 == 0)
    return std::make_unique<Circle>(1.0 + i % 7);
  return std::make_unique<Rect>(1.0 + i % 5, 2.0 + i % 11);
}

} // namespace

int main() {
  unsigned long long checksum = 1469598103934665603ull;
  auto mix = [&](unsigned long long v) { checksum = (checksum ^ v) * 1099511628211ull; };
  for (const auto &[name, sides] : registry) {
    for (char c : name)
      mix(static_cast<unsigned char>(c));
    mix(sides);
  }
  std::vector<std::unique_ptr<Shape>> shapes;
  for (int i = 0; i < 2000; ++i)
    shapes.push_back(make(i));
  double total = 0;
  for (const auto &s : shapes) {
    total += s->area();
    mix(s->name().size());
    counter();
  }
  mix(static_cast<unsigned long long>(total * 1000));
  std::vector<std::function<long(long)>> steps = {[](long x) { return x * 3 + 1; },
                                                  [](long x) { return x / 2; }};
  long x = 27;
  for (int i = 0; i < 100; ++i)
    x = steps[x % 2](x);
  mix(x);
  int caught = 0;
  for (int limit = 10; limit < 200; limit += 37) {
    try {
      mix(clamp_sum<int>({5, 17, 23, 42, 64}, limit));
    } catch (const std::overflow_error &e) {
      ++caught;
      mix(std::string(e.what()).size());
    }
  }
  std::printf("shapes %zu registry %zu calls %d caught %d checksum %llu\n", shapes.size(),
              registry.size(), counter(), caught, checksum);
  return 0;
}
