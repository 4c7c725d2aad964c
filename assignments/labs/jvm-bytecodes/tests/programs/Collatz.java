// Loops, compares and int division: Collatz lengths, gcds and digit sums.
public class Collatz {
    static int steps(int n) {
        int s = 0;
        while (n != 1) {
            if (n % 2 == 0) n = n / 2;
            else n = 3 * n + 1;
            s++;
        }
        return s;
    }

    // Euclid by subtraction, on magnitudes.
    static int gcd(int a, int b) {
        if (a < 0) a = -a;
        if (b < 0) b = -b;
        if (a == 0) return b;
        while (b > 0) {
            if (a > b) a -= b;
            else b -= a;
        }
        return a;
    }

    static int digits(int n) {
        int sum = 0;
        if (n < 0) n = -n;
        do {
            sum += n % 10;
            n /= 10;
        } while (n > 0);
        return sum;
    }

    public static void main(String[] args) {
        int best = 0, arg = 0;
        for (int i = 1; i < 300; i++) {
            int s = steps(i);
            if (s > best) {
                best = s;
                arg = i;
            }
        }
        System.out.println(arg);
        System.out.println(best);
        System.out.println(gcd(1071, 462));
        System.out.println(gcd(-48, 18));
        System.out.println(digits(-98765));
        System.out.println(-7 / 2);
        System.out.println(-7 % 2);
        System.out.println(7 % -3);
    }
}
