#include <math.h>
#include "ops.h"

double op_add(double a, double b) { return a + b; }
double op_mul(double a, double b) { return a * b; }
double op_pow(double a, double b) { return pow(a, b); }
double op_hypot(double a, double b) { return sqrt(a * a + b * b); }
