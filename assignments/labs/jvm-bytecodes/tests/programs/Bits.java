// Shifts, masks and wrap-around: a hash, bit counts and overflowing sums.
public class Bits {
    static int hash(int h, int x) {
        h ^= x;
        h *= 0x01000193;
        return h ^ (h >>> 15);
    }

    static int popcount(int x) {
        int c = 0;
        while (x != 0) {
            x &= x - 1;
            c++;
        }
        return c;
    }

    static int rotl(int x, int k) {
        return (x << k) | (x >>> -k);
    }

    public static void main(String[] args) {
        int h = 0x811c9dc5;
        for (int i = -50; i <= 50; i += 3) h = hash(h, i);
        System.out.println(h);
        System.out.println(popcount(-1));
        System.out.println(popcount(0x12345678));
        System.out.println(rotl(0x80000001, 4));
        System.out.println(-17 >> 2);
        System.out.println(-17 >>> 28);
        System.out.println(1 << 33);
        int big = 2147483647;
        big += 1;
        System.out.println(big);
        short s = (short) 40000;
        System.out.println(s + ~s);
        int neg = -2147483648;
        System.out.println(neg / -1);
        System.out.println(-neg);
        boolean odd = (big & 1) != 0;
        System.out.println(odd ? 1 : 0);
    }
}
