// Integer, long and boolean arithmetic, comparisons, shifts and loops.
public class Arith {
    static int gcd(int a, int b) {
        while (b != 0) {
            int t = a % b;
            a = b;
            b = t;
        }
        return a;
    }

    static long fact(int n) {
        return n <= 1 ? 1L : n * fact(n - 1);
    }

    static boolean isPrime(int n) {
        if (n < 2) return false;
        for (int i = 2; i * i <= n; i++) {
            if (n % i == 0) return false;
        }
        return true;
    }

    public static void main(String[] args) {
        System.out.println(gcd(1071, 462));
        System.out.println(fact(20));
        int count = 0;
        for (int i = 0; i < 200; i++) {
            if (isPrime(i)) count++;
        }
        System.out.println(count);
        int x = Integer.MAX_VALUE;
        System.out.println(x + 1);
        System.out.println(-7 / 2);
        System.out.println(-7 % 2);
        System.out.println(-7 >> 1);
        System.out.println(-7 >>> 28);
        System.out.println(1 << 33);
        long big = 1L << 40;
        System.out.println(big);
        System.out.println(big >>> 3);
        System.out.println(Long.MIN_VALUE - 1);
        System.out.println((byte) 200);
        System.out.println((char) 65);
        System.out.println((short) 70000);
        System.out.println((int) 12345678901L);
        boolean t = 3 < 4;
        boolean f = t && (5 > 6);
        System.out.println(t);
        System.out.println(f ^ t);
        System.out.println(Math.max(3, 9) + Math.min(-2, 4) + Math.abs(-11));
        System.out.println(Math.max(3L, 9L));
        long sum = 0;
        for (int i = 0; i < 100000; i++) {
            sum += i ^ (i >> 3);
        }
        System.out.println(sum);
        System.out.print("no newline");
        System.out.println();
        System.out.println('c');
        System.out.println(10L * 3 / 7 % 4);
    }
}
