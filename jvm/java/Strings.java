// String building: StringBuilder appends of every kind, concatenation, String methods.
public class Strings {
    public static void main(String[] args) {
        StringBuilder sb = new StringBuilder();
        sb.append(1).append(' ').append(2L).append(' ').append(true).append(' ').append("str");
        System.out.println(sb.toString());
        System.out.println(sb.length());
        String s = "Hello";
        String t = s + ", " + "world" + '!' + 42 + false + 7L;
        System.out.println(t);
        System.out.println(t.length());
        System.out.println(t.charAt(4));
        System.out.println(t.substring(7, 12));
        System.out.println("abc".equals("ab" + "c"));
        System.out.println("abc".hashCode());
        System.out.println("b".compareTo("a"));
        System.out.println(String.valueOf(99) + String.valueOf('x'));
        System.out.println(new StringBuilder("abc").reverse().toString());
        String acc = "";
        for (int i = 0; i < 5; i++) acc = acc + i;
        System.out.println(acc);
        String n = null;
        System.out.println("null is " + n);
        System.out.println("".isEmpty());
        System.out.println("x".concat("y"));
    }
}
