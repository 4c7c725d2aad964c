// Exceptions: the runtime's own, user-defined, finally, rethrow through frames.
class Oops extends Exception {
    int code;

    Oops(String m, int code) {
        super(m);
        this.code = code;
    }
}

public class Exceptions {
    static int depth(int n) throws Oops {
        if (n == 0) throw new Oops("bottom", 42);
        return depth(n - 1) + 1;
    }

    static int divide(int a, int b) {
        return a / b;
    }

    public static void main(String[] args) {
        try {
            System.out.println(divide(10, 0));
        } catch (ArithmeticException e) {
            System.out.println("caught " + e.getMessage());
        }
        int[] a = new int[3];
        try {
            a[5] = 1;
        } catch (ArrayIndexOutOfBoundsException e) {
            System.out.println("caught " + e.getMessage());
        }
        String s = null;
        try {
            System.out.println(s.length());
        } catch (NullPointerException e) {
            System.out.println("caught NPE");
        }
        try {
            depth(5);
        } catch (Oops e) {
            System.out.println("caught " + e.getMessage() + " " + e.code);
        } finally {
            System.out.println("finally");
        }
        try {
            Object o = "text";
            Integer i = (Integer) o;
            System.out.println(i);
        } catch (ClassCastException e) {
            System.out.println("caught CCE");
        }
        try {
            throw new IllegalStateException("state");
        } catch (RuntimeException e) {
            System.out.println(e.toString());
        }
        int n = 0;
        for (int i = 0; i < 10; i++) {
            try {
                if (i % 3 == 0) throw new RuntimeException("r" + i);
                n += i;
            } catch (RuntimeException e) {
                n += 100;
            }
        }
        System.out.println(n);
        try {
            int[] neg = new int[-1];
        } catch (NegativeArraySizeException e) {
            System.out.println("caught " + e.getMessage());
        }
        System.out.println(divide(1, 0));
    }
}
