#pragma once
// Physical quantities as people write them ("1 TWh", "300 W", "14.8 days",
// "552 tCO2e", "3.14e23 FLOP"), parsed to SI base values, and printed back in
// the unit a reader expects. Internally: joules, watts, seconds, grams of CO2e,
// FLOPs, FLOP/s, g/kWh.
#include <string>

namespace flops::cost {

enum class Dim {
  Count,      // a plain number: parameters, tokens, devices ("175B", "1.5e23", "10,000")
  Flops,      // FLOP ("3.14e23 FLOP", "3640 PF-days")
  FlopRate,   // FLOP/s ("28 TFLOP/s", "125 TFLOPS")
  Energy,     // J ("1 TWh", "936 MWh", "5 kJ")
  Power,      // W ("300 W", "0.3 kW")
  Time,       // s ("14.8 days", "2 h")
  Mass,       // g of CO2e ("552 tCO2e", "85,000 kgCO2e")
  Intensity,  // g CO2e per kWh ("429 g/kWh", "0.429 kgCO2e/kWh")
  Price,      // currency per kWh, or per device-hour ("$0.10/kWh", "2.5/h"): the number only
  Fraction,   // 0..1 ("40%", "0.4")
};

const char* dim_name(Dim d);

struct Quantity {
  double value = 0;  // in the base unit of `dim`
  Dim dim = Dim::Count;
};

// Parses `text` as a quantity of dimension `want`; a bare number is taken in the
// base unit (FLOP, J, W, s, g, g/kWh). Throws flops::Error naming `field` on
// anything it cannot read, and on values that are not finite.
double parse_quantity(const std::string& text, Dim want, const std::string& field);

// As above, and the value must be > 0.
double parse_positive(const std::string& text, Dim want, const std::string& field);

// Infers the dimension from the unit (for --claim): energy, mass, time, FLOP, power.
// A bare number is rejected because a claim without a unit cannot be compared.
Quantity parse_claim(const std::string& text, const std::string& field);

// Human formatting, 3-4 significant figures with thousands separators:
// "3.15e23 FLOP", "13.0 days", "1,404 MWh", "552 tCO2e", "28.0 TFLOP/s".
std::string format_number(double v);        // 1,404 / 13.0 / 0.0123 / 3.15e23
std::string format_int(double v);           // 3,552,000 (rounded to an integer)
std::string format_count(double v);         // 175 billion, 5.70 million, 936
std::string format_flops(double v);         // 3.15e23 FLOP
std::string format_flop_rate(double v);     // 28.0 TFLOP/s
std::string format_energy(double joules);   // Wh..TWh
std::string format_power(double watts);     // W, kW, MW
std::string format_time(double seconds);    // s, min, h, days, years
std::string format_mass(double grams);      // gCO2e, kgCO2e, tCO2e
std::string format_quantity(const Quantity& q);

}  // namespace flops::cost
