// The JIT demo's program: one int method that a loop calls again and again. The
// method becomes hot and compiles to x86; main's loop compiles too, and its
// compiled code leaves for the interpreter at the call.
public class Hot {
    static int sumOfSquares(int n) {
        int s = 0;
        for (int i = 1; i <= n; i++) {
            s += i * i % 1000;
        }
        return s;
    }

    public static void main(String[] args) {
        int total = 0;
        for (int k = 0; k < 300; k++) {
            total += sumOfSquares(k);
        }
        System.out.println(total);
    }
}
