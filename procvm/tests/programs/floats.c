/* Floating point on the x87: arithmetic in double and long double, conversions,
   printf's formatting, sqrt, and integer rounding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    double sum = 0.0;
    for (int i = 1; i <= 1000; i++) sum += 1.0 / i;
    printf("harmonic(1000) = %.15f\n", sum);
    long double third = 1.0L / 3.0L;
    printf("1/3 as long double = %.20Lf\n", third);
    float f = 3.14159265f;
    printf("float pi = %.7f, as double %.15f\n", f, (double)f);
    double x = 2.0;
    for (int i = 0; i < 5; i++) x = sqrt(x);
    printf("2^(1/32) = %.17g\n", x);
    printf("%e %g %a\n", 6.02214076e23, 1e-5, 0.1);
    printf("rounding: %ld %ld %d %d\n", lrint(2.5), lrint(3.5), (int)-2.7, (int)2.7);
    double big = 1e308;
    printf("overflow: %g, %g\n", big * 10, -big * 10);
    printf("nan: %g, inf-inf: %g\n", sqrt(-1.0), (big * 10) - (big * 10));
    printf("strtod: %.17g\n", strtod("123.456e-2", NULL));
    printf("floor %.1f ceil %.1f fmod %.3f\n", floor(-1.5), ceil(-1.5), fmod(10.0, 3.3));
    return 0;
}
