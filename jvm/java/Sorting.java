// Arrays of primitives and references, sorting, 2-D arrays.
public class Sorting {
    static void insertion(int[] a) {
        for (int i = 1; i < a.length; i++) {
            int v = a[i];
            int j = i - 1;
            while (j >= 0 && a[j] > v) {
                a[j + 1] = a[j];
                j--;
            }
            a[j + 1] = v;
        }
    }

    static void quick(long[] a, int lo, int hi) {
        if (lo >= hi) return;
        long p = a[(lo + hi) >>> 1];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < p) i++;
            while (a[j] > p) j--;
            if (i <= j) {
                long t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        quick(a, lo, j);
        quick(a, i, hi);
    }

    static void sortNames(String[] s) {
        for (int i = 0; i < s.length; i++)
            for (int j = i + 1; j < s.length; j++)
                if (s[j].compareTo(s[i]) < 0) {
                    String t = s[i];
                    s[i] = s[j];
                    s[j] = t;
                }
    }

    public static void main(String[] args) {
        int[] a = new int[50];
        int seed = 12345;
        for (int i = 0; i < a.length; i++) {
            seed = seed * 1103515245 + 12345;
            a[i] = (seed >>> 16) % 1000;
        }
        insertion(a);
        StringBuilder sb = new StringBuilder();
        for (int v : a) sb.append(v).append(' ');
        System.out.println(sb.toString());
        long[] b = new long[40];
        for (int i = 0; i < b.length; i++) b[i] = (i * 7919L) % 101 - 50;
        quick(b, 0, b.length - 1);
        for (long v : b) System.out.print(v + ",");
        System.out.println();
        String[] names = {"pear", "apple", "fig", "banana", "cherry"};
        sortNames(names);
        for (String n : names) System.out.println(n);
        int[][] grid = new int[4][5];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 5; j++) grid[i][j] = i * j;
        int s = 0;
        for (int[] row : grid) for (int v : row) s += v;
        System.out.println(s);
        char[] cs = {'h', 'i'};
        System.out.println(cs);
        boolean[] flags = new boolean[3];
        flags[1] = true;
        System.out.println(flags[0] + " " + flags[1]);
        byte[] bs = new byte[2];
        bs[0] = (byte) 300;
        System.out.println(bs[0]);
    }
}
