# The seed's script (../shared/seed/autodiff_seed.py) with its own definitions removed and
# slpdiff's in their place; the main block below is the seed's, unchanged.
from slpdiff import Var, add, subtract, multiply, divide, negative, square, exp, sin, cos  # noqa: F401


if __name__ == '__main__':
    x = Var(value=1)
    w = Var(value=4)
    v1 = multiply(x, w)
    v2 = sin(v1)
    v3 = add(v1, v2)
    v4 = square(v2)
    v5 = exp(v3)
    v6 = multiply(v4, w)
    v7 = add(v5, v6)
    for t in range(30):
        v7.forward()
        v7.backward()
        print(f'w={w.value}, v7={v7.value}, (dv7)/(dw)={w.deriv}')
        w.value -= 0.1 * w.deriv
    print(f'w={w.value}, v7={v7.value}, (dv7)/(dw)={w.deriv}')
