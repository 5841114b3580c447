#include "cost/units.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"

namespace flops::cost {

const char* dim_name(Dim d) {
  switch (d) {
    case Dim::Count: return "number";
    case Dim::Flops: return "FLOP count";
    case Dim::FlopRate: return "FLOP/s";
    case Dim::Energy: return "energy";
    case Dim::Power: return "power";
    case Dim::Time: return "time";
    case Dim::Mass: return "CO2e mass";
    case Dim::Intensity: return "carbon intensity";
    case Dim::Price: return "price";
    case Dim::Fraction: return "fraction";
  }
  return "?";
}

namespace {

using UnitTable = std::vector<std::pair<const char*, double>>;

// Lower-case spellings (matching is case-insensitive: at training scale "mwh"
// means MWh, nobody counts milliwatt-hours, so no milli units exist here).
const UnitTable& units_for(Dim d) {
  static const UnitTable count = {{"", 1}, {"k", 1e3}, {"m", 1e6}, {"b", 1e9}, {"g", 1e9}, {"t", 1e12}};
  static const UnitTable flops = {{"flop", 1},      {"flops", 1},       {"kflop", 1e3},  {"kflops", 1e3},
                                  {"mflop", 1e6},   {"mflops", 1e6},    {"gflop", 1e9},  {"gflops", 1e9},
                                  {"tflop", 1e12},  {"tflops", 1e12},   {"pflop", 1e15}, {"pflops", 1e15},
                                  {"eflop", 1e18},  {"eflops", 1e18},   {"zflop", 1e21}, {"zflops", 1e21},
                                  {"pf-days", 8.64e19}, {"pf-day", 8.64e19}, {"pfs-days", 8.64e19},
                                  {"pfs-day", 8.64e19}, {"petaflop/s-days", 8.64e19}, {"petaflop/s-day", 8.64e19}};
  static const UnitTable rate = {{"flop/s", 1},    {"flops", 1},     {"gflop/s", 1e9},  {"gflops", 1e9},
                                 {"tflop/s", 1e12}, {"tflops", 1e12}, {"pflop/s", 1e15}, {"pflops", 1e15},
                                 {"eflop/s", 1e18}, {"eflops", 1e18}, {"mflop/s", 1e6},  {"mflops", 1e6}};
  static const UnitTable energy = {{"j", 1},          {"kj", 1e3},         {"mj", 1e6},        {"gj", 1e9},
                                   {"tj", 1e12},      {"pj", 1e15},        {"wh", 3600},       {"kwh", 3.6e6},
                                   {"mwh", 3.6e9},    {"gwh", 3.6e12},     {"twh", 3.6e15},    {"pwh", 3.6e18},
                                   {"joule", 1},      {"joules", 1}};
  static const UnitTable power = {{"w", 1},         {"kw", 1e3},        {"mw", 1e6},        {"gw", 1e9},
                                  {"watt", 1},      {"watts", 1},       {"kilowatt", 1e3},  {"kilowatts", 1e3},
                                  {"megawatt", 1e6}, {"megawatts", 1e6}};
  static const UnitTable time = {{"s", 1},         {"sec", 1},         {"secs", 1},        {"second", 1},
                                 {"seconds", 1},   {"min", 60},        {"mins", 60},       {"minute", 60},
                                 {"minutes", 60},  {"h", 3600},        {"hr", 3600},       {"hrs", 3600},
                                 {"hour", 3600},   {"hours", 3600},    {"d", 86400},       {"day", 86400},
                                 {"days", 86400},  {"week", 604800},   {"weeks", 604800},  {"y", 31557600},
                                 {"yr", 31557600}, {"yrs", 31557600},  {"year", 31557600}, {"years", 31557600}};
  static const UnitTable mass = {{"g", 1},          {"kg", 1e3},       {"t", 1e6},         {"kt", 1e9},
                                 {"mt", 1e12},      {"gram", 1},       {"grams", 1},       {"kilogram", 1e3},
                                 {"kilograms", 1e3}, {"tonne", 1e6},   {"tonnes", 1e6},    {"ton", 1e6},
                                 {"tons", 1e6},     {"lb", 453.59237}, {"lbs", 453.59237}};
  static const UnitTable intensity = {{"g/kwh", 1},  {"kg/kwh", 1e3},  {"t/mwh", 1e3},
                                      {"kg/mwh", 1}, {"lb/mwh", 0.45359237}, {"g/wh", 1e3}};
  static const UnitTable price = {{"", 1}, {"/kwh", 1}, {"perkwh", 1}, {"/h", 1}, {"/hr", 1}, {"/hour", 1},
                                  {"perhour", 1}};
  static const UnitTable fraction = {{"", 1}, {"%", 0.01}};
  switch (d) {
    case Dim::Count: return count;
    case Dim::Flops: return flops;
    case Dim::FlopRate: return rate;
    case Dim::Energy: return energy;
    case Dim::Power: return power;
    case Dim::Time: return time;
    case Dim::Mass: return mass;
    case Dim::Intensity: return intensity;
    case Dim::Price: return price;
    case Dim::Fraction: return fraction;
  }
  return count;
}

std::string lower(std::string s) {
  for (char& c : s) c = (char)std::tolower((unsigned char)c);
  return s;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

void erase_all(std::string& s, const std::string& what) {
  for (size_t p; (p = s.find(what)) != std::string::npos;) s.erase(p, what.size());
}

struct Parsed {
  double number = 0;
  std::string unit;  // normalized: lower case, no spaces, no CO2 marker, no currency
};

// Splits "1,287.5 million MWh" into 1.2875e9 and "mwh". Throws naming the field.
Parsed split(const std::string& text, const std::string& field) {
  std::string s = trim(text);
  if (s.empty()) fail("invalid {}: empty value", field);
  size_t i = 0;
  // Currency symbols only ever precede prices; stripping them everywhere is harmless.
  for (const char* cur : {"$", "\xE2\x82\xAC" /*€*/, "\xC2\xA3" /*£*/}) {
    std::string c = cur;
    if (s.compare(0, c.size(), c) == 0) {
      i = c.size();
      break;
    }
  }
  std::string num;
  size_t j = i;
  if (j < s.size() && (s[j] == '+' || s[j] == '-')) num += s[j++];
  bool digits = false;
  while (j < s.size()) {
    char c = s[j];
    if (std::isdigit((unsigned char)c)) {
      num += c;
      digits = true;
      ++j;
    } else if (c == ',' && digits && j + 3 < s.size() + 1 && std::isdigit((unsigned char)s[j + 1]) &&
               j + 3 <= s.size() && std::isdigit((unsigned char)s[j + 2]) && std::isdigit((unsigned char)s[j + 3]) &&
               (j + 4 >= s.size() || !std::isdigit((unsigned char)s[j + 4]))) {
      ++j;  // thousands separator: exactly three digits follow
    } else if (c == '.') {
      num += c;
      ++j;
    } else if ((c == 'e' || c == 'E') && digits && j + 1 < s.size() &&
               (std::isdigit((unsigned char)s[j + 1]) ||
                ((s[j + 1] == '+' || s[j + 1] == '-') && j + 2 < s.size() && std::isdigit((unsigned char)s[j + 2])))) {
      num += c;
      ++j;
      if (s[j] == '+' || s[j] == '-') num += s[j++];
      while (j < s.size() && std::isdigit((unsigned char)s[j])) num += s[j++];
      break;
    } else {
      break;
    }
  }
  if (!digits) fail("invalid {}: '{}' does not start with a number", field, text);
  char* end = nullptr;
  double v = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size()) fail("invalid {}: cannot read the number in '{}'", field, text);
  std::string rest = trim(s.substr(j));
  // Scale words ("1.5 million", "175 billion parameters").
  static const std::pair<const char*, double> words[] = {
      {"thousand", 1e3}, {"million", 1e6}, {"billion", 1e9}, {"trillion", 1e12}, {"quadrillion", 1e15}};
  for (auto& [w, m] : words) {
    std::string lw = lower(rest);
    if (lw.compare(0, std::char_traits<char>::length(w), w) == 0) {
      v *= m;
      rest = trim(rest.substr(std::char_traits<char>::length(w)));
      break;
    }
  }
  std::string u = lower(rest);
  erase_all(u, " ");
  for (const char* m : {"co2eq", "co2e", "co\xE2\x82\x82" "e", "co\xE2\x82\x82", "co2", "usd", "eur"}) erase_all(u, m);
  // Nouns after a count carry no scale.
  for (const char* noun : {"parameters", "params", "param", "tokens", "token", "devices", "device", "gpus", "gpu",
                           "chips", "chip"})
    if (u.size() >= std::char_traits<char>::length(noun) &&
        u.compare(u.size() - std::char_traits<char>::length(noun), std::string::npos, noun) == 0) {
      u.erase(u.size() - std::char_traits<char>::length(noun));
      break;
    }
  return {v, u};
}

bool lookup(Dim d, const std::string& unit, double* mult) {
  for (auto& [name, m] : units_for(d))
    if (unit == name) {
      *mult = m;
      return true;
    }
  return false;
}

std::string expected_units(Dim d) {
  switch (d) {
    case Dim::Count: return "a number, optionally with k, M, B, T or million/billion";
    case Dim::Flops: return "FLOP, e.g. 3.14e23 FLOP or 3640 PF-days";
    case Dim::FlopRate: return "FLOP/s, e.g. 28 TFLOP/s";
    case Dim::Energy: return "J, kJ, MJ, GJ, Wh, kWh, MWh, GWh, TWh";
    case Dim::Power: return "W, kW, MW";
    case Dim::Time: return "s, min, h, days, weeks, years";
    case Dim::Mass: return "g, kg, t (CO2e)";
    case Dim::Intensity: return "g/kWh, kg/kWh, t/MWh, lb/MWh";
    case Dim::Price: return "a number, optionally $ ... /kWh or /h";
    case Dim::Fraction: return "a fraction 0..1 or a percentage";
  }
  return "";
}

}  // namespace

double parse_quantity(const std::string& text, Dim want, const std::string& field) {
  Parsed p = split(text, field);
  double mult = 0;
  if (!lookup(want, p.unit, &mult)) {
    if (p.unit.empty())
      mult = 1;  // a bare number is in the base unit
    else
      fail("invalid {}: unknown unit in '{}' (expected {})", field, text, expected_units(want));
  }
  double v = p.number * mult;
  if (!std::isfinite(v)) fail("invalid {}: '{}' is not a finite number", field, text);
  if (want == Dim::Fraction && p.unit.empty() && v > 1)
    fail("invalid {}: {} is above 1 (write {}% or {})", field, text, text, p.number / 100);
  return v;
}

double parse_positive(const std::string& text, Dim want, const std::string& field) {
  double v = parse_quantity(text, want, field);
  if (!(v > 0)) fail("invalid {}: '{}' must be greater than zero", field, text);
  return v;
}

Quantity parse_claim(const std::string& text, const std::string& field) {
  Parsed p = split(text, field);
  if (p.unit.empty())
    fail("invalid {}: '{}' has no unit (give one, e.g. \"1 TWh\", \"552 tCO2e\", \"14.8 days\", \"3.14e23 FLOP\")",
         field, text);
  for (Dim d : {Dim::Energy, Dim::Mass, Dim::Time, Dim::Flops, Dim::Power}) {
    double mult = 0;
    if (lookup(d, p.unit, &mult)) {
      double v = p.number * mult;
      if (!std::isfinite(v) || !(v > 0)) fail("invalid {}: '{}' must be a positive finite amount", field, text);
      return {v, d};
    }
  }
  fail("invalid {}: unknown unit in '{}' (expected energy like 1 TWh, CO2e like 552 tCO2e, time like 14.8 days, "
       "or FLOP)",
       field, text);
}

// ---- formatting ----

namespace {

std::string with_commas(long long n) {
  std::string s = std::to_string(n < 0 ? -n : n), out;
  int k = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    if (k && k % 3 == 0) out += ',';
    out += *it;
    ++k;
  }
  if (n < 0) out += '-';
  std::reverse(out.begin(), out.end());
  return out;
}

std::string sci(double v) {
  std::string s = fmt::format("{:.3g}", v);  // 3.15e+23
  size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string mant = s.substr(0, e), ex = s.substr(e + 1);
  if (mant.find('.') == std::string::npos) mant += ".00";
  while (mant.size() < 4 && mant.find('.') != std::string::npos) mant += '0';
  int x = std::atoi(ex.c_str());
  return fmt::format("{}e{}", mant, x);
}

// Picks among units (ascending by size): the largest in which the value is >= 1,
// then steps down one unit when that shows 4 significant digits instead of a
// rounded 1.xx (1,404 MWh rather than 1.40 GWh), except for round thousands.
std::string scaled(double v, const std::vector<std::pair<double, const char*>>& units) {
  if (v == 0) return fmt::format("0 {}", units.front().second);
  size_t k = 0;
  for (size_t i = 0; i < units.size(); ++i)
    if (std::fabs(v) >= units[i].first) k = i;
  double x = v / units[k].first;
  if (k > 0 && std::fabs(x) < 10) {
    double y = v / units[k - 1].first;
    long long r = std::llround(y);
    if (std::fabs(y) < 10000 && r % 1000 != 0) return fmt::format("{} {}", format_number(y), units[k - 1].second);
  }
  if (std::fabs(x) >= 1e6) return fmt::format("{} {}", sci(x), units[k].second);
  return fmt::format("{} {}", format_number(x), units[k].second);
}

}  // namespace

std::string format_number(double v) {
  if (!std::isfinite(v)) return v > 0 ? "inf" : (v < 0 ? "-inf" : "nan");
  double a = std::fabs(v);
  if (a == 0) return "0";
  if (a >= 1e6 || a < 1e-3) return sci(v);
  if (a >= 1000) return with_commas(std::llround(v));
  if (a >= 100) return fmt::format("{:.0f}", v);
  if (a >= 10) return fmt::format("{:.1f}", v);
  if (a >= 1) return fmt::format("{:.2f}", v);
  return fmt::format("{:.3g}", v);
}

std::string format_int(double v) {
  if (!std::isfinite(v) || std::fabs(v) >= 9e18) return sci(v);
  return with_commas(std::llround(v));
}

std::string format_count(double v) {
  double a = std::fabs(v);
  if (a >= 1e15 || !std::isfinite(v)) return sci(v);
  if (a < 1e6 && v == std::floor(v)) return with_commas((long long)v);  // devices, tokens: whole numbers
  if (a >= 1e12) return format_number(v / 1e12) + " trillion";
  if (a >= 1e9) return format_number(v / 1e9) + " billion";
  if (a >= 1e6) return format_number(v / 1e6) + " million";
  return format_number(v);
}

std::string format_flops(double v) { return (std::fabs(v) >= 1e6 ? sci(v) : format_number(v)) + " FLOP"; }

std::string format_flop_rate(double v) {
  return scaled(v, {{1, "FLOP/s"}, {1e3, "kFLOP/s"}, {1e6, "MFLOP/s"}, {1e9, "GFLOP/s"}, {1e12, "TFLOP/s"},
                    {1e15, "PFLOP/s"}, {1e18, "EFLOP/s"}});
}

std::string format_energy(double j) {
  if (std::fabs(j) < 3600 && j != 0) return format_number(j) + " J";
  return scaled(j, {{3600, "Wh"}, {3.6e6, "kWh"}, {3.6e9, "MWh"}, {3.6e12, "GWh"}, {3.6e15, "TWh"}});
}

std::string format_power(double w) { return scaled(w, {{1, "W"}, {1e3, "kW"}, {1e6, "MW"}, {1e9, "GW"}}); }

std::string format_time(double s) {
  double a = std::fabs(s);
  if (a < 120) return format_number(s) + " s";
  if (a < 7200) return format_number(s / 60) + " min";
  if (a < 48 * 3600.0) return format_number(s / 3600) + " h";
  if (a < 1000 * 86400.0) return format_number(s / 86400) + " days";
  return format_number(s / 31557600) + " years";
}

std::string format_mass(double g) {
  return scaled(g, {{1e-3, "mgCO2e"}, {1, "gCO2e"}, {1e3, "kgCO2e"}, {1e6, "tCO2e"}, {1e9, "ktCO2e"}, {1e12, "MtCO2e"}});
}

std::string format_quantity(const Quantity& q) {
  switch (q.dim) {
    case Dim::Flops: return format_flops(q.value);
    case Dim::FlopRate: return format_flop_rate(q.value);
    case Dim::Energy: return format_energy(q.value);
    case Dim::Power: return format_power(q.value);
    case Dim::Time: return format_time(q.value);
    case Dim::Mass: return format_mass(q.value);
    case Dim::Intensity: return format_number(q.value) + " g/kWh";
    case Dim::Fraction: return format_number(q.value * 100) + "%";
    default: return format_number(q.value);
  }
}

}  // namespace flops::cost
