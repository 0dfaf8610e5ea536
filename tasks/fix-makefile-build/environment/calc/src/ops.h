#ifndef CALC_OPS_H
#define CALC_OPS_H

double op_add(double a, double b);
double op_mul(double a, double b);
double op_pow(double a, double b);
double op_hypot(double a, double b);

#endif
