// Objects, inheritance, virtual and interface calls, static fields and initializers.
interface Shape {
    int area();
    String name();
}

abstract class Base implements Shape {
    static int created;
    protected int id;

    Base() {
        created++;
        id = created;
    }

    public String name() {
        return "shape" + id;
    }
}

class Rect extends Base {
    int w, h;

    Rect(int w, int h) {
        this.w = w;
        this.h = h;
    }

    public int area() {
        return w * h;
    }
}

class Square extends Rect {
    Square(int s) {
        super(s, s);
    }

    public String name() {
        return "square" + id;
    }
}

class Circle extends Base {
    int r;

    Circle(int r) {
        this.r = r;
    }

    public int area() {
        return 3 * r * r;
    }
}

public class Shapes {
    static final Shape[] ALL;
    static int total;

    static {
        ALL = new Shape[] {new Rect(2, 3), new Square(4), new Circle(5), new Rect(1, 1)};
    }

    public static void main(String[] args) {
        for (Shape s : ALL) {
            total += s.area();
            System.out.println(s.name() + " " + s.area());
        }
        System.out.println(total);
        System.out.println(Base.created);
        Object o = ALL[1];
        System.out.println(o instanceof Rect);
        System.out.println(o instanceof Circle);
        System.out.println(o instanceof Shape);
        Rect r = (Rect) o;
        System.out.println(r.w);
    }
}
