// Loop-heavy int code: the methods the baseline JIT compiles, called from loops
// that the interpreter runs between calls.
public class Loops {
    static int sumTo(int n) {
        int s = 0;
        for (int i = 1; i <= n; i++) {
            s += i;
        }
        return s;
    }

    static int collatzSteps(int n) {
        int steps = 0;
        while (n != 1) {
            if ((n & 1) == 0) {
                n = n / 2;
            } else {
                n = 3 * n + 1;
            }
            steps++;
        }
        return steps;
    }

    static int gcd(int a, int b) {
        for (;;) {
            if (b == 0) {
                return a;
            }
            a %= b;
            if (a == 0) {
                return b;
            }
            b %= a;
        }
    }

    static boolean isPrime(int n) {
        if (n < 2) {
            return false;
        }
        for (int d = 2; d * d <= n; d++) {
            if (n % d == 0) {
                return false;
            }
        }
        return true;
    }

    static int mix(int x) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return x;
    }

    static int divide(int a, int b) {
        try {
            return a / b;
        } catch (ArithmeticException e) {
            return -1;
        }
    }

    static int remainder(int a, int b) {
        return a % b;
    }

    static int deep(int a, int b, int c, int d, int e, int f) {
        return a + (b * (c - (d ^ (e > f ? e >> 2 : f - e) | (a < 0 ? -a : a))));
    }

    static int narrow(int n) {
        int c = 0;
        for (int i = 0; i < n; i++) {
            c += (byte) (i * 3) + (char) (i * -7) + (short) (i * 1000);
            c -= i % 7 == 3 ? -i : i >> 1;
        }
        return c;
    }

    public static void main(String[] args) {
        System.out.println(sumTo(100000));
        int longest = 0;
        int arg = 0;
        for (int i = 1; i < 3000; i++) {
            int s = collatzSteps(i);
            if (s > longest) {
                longest = s;
                arg = i;
            }
        }
        System.out.println(arg + " " + longest);
        int g = 0;
        for (int i = 1; i < 2000; i++) {
            g += gcd(i * 7919, 1000 + i);
        }
        System.out.println(g);
        int primes = 0;
        for (int i = 0; i < 20000; i++) {
            if (isPrime(i)) {
                primes++;
            }
        }
        System.out.println(primes);
        int x = 2463534;
        for (int i = 0; i < 10000; i++) {
            x = mix(x);
        }
        System.out.println(x);
        int min = Integer.MIN_VALUE;
        System.out.println(divide(7, 0) + " " + divide(min, -1) + " " + divide(-7, 2)
                + " " + remainder(min, -1) + " " + remainder(-7, 2));
        int dsum = 0;
        for (int i = -50; i < 50; i++) {
            dsum += deep(i, i + 1, i * 3, i ^ 5, i & 9, 7 - i);
        }
        System.out.println(dsum);
        System.out.println(narrow(5000));
        int caught = 0;
        for (int i = 0; i < 10; i++) {
            try {
                caught += remainder(i, i - 5);
            } catch (ArithmeticException e) {
                caught += 100;
            }
        }
        System.out.println(caught);
    }
}
