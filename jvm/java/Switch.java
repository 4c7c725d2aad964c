// tableswitch and lookupswitch, with fall-through and default.
public class Switch {
    static String day(int d) {
        switch (d) {
            case 0: return "sun";
            case 1: return "mon";
            case 2: return "tue";
            case 3: return "wed";
            case 4: return "thu";
            default: return "?";
        }
    }

    static int sparse(int k) {
        int r = 0;
        switch (k) {
            case -1000: r = 1; break;
            case 7: r = 2;
            case 100: r += 3; break;
            case 99999: r = 4; break;
            default: r = -1;
        }
        return r;
    }

    public static void main(String[] args) {
        for (int i = -1; i < 7; i++) System.out.println(day(i));
        int[] keys = {-1000, 7, 100, 99999, 5};
        for (int k : keys) System.out.println(sparse(k));
    }
}
