/*
 * Guest libc: snprintf/vsnprintf (see stdio.h for the conversions).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Output cursor: writes while there is room, always counts. */
struct out {
	char *buf;
	size_t size; /* room including the terminating NUL */
	size_t len;  /* characters produced so far */
};

static void out_char(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		out_char(o, c);
}

/* One conversion's flags, width and precision (-1: none). */
struct spec {
	bool left, zero;
	int width, prec;
};

static void out_str(struct out *o, const struct spec *sp, const char *s)
{
	if (!s)
		s = "(null)";
	int n = (int)(sp->prec >= 0 ? strnlen(s, (size_t)sp->prec) : strlen(s));

	if (!sp->left)
		out_pad(o, ' ', sp->width - n);
	for (int i = 0; i < n; i++)
		out_char(o, s[i]);
	if (sp->left)
		out_pad(o, ' ', sp->width - n);
}

/* An integer: magnitude v in base, with an optional sign or prefix. */
static void out_num(struct out *o, const struct spec *sp, uint64_t v, unsigned base,
		    bool upper, bool neg, const char *prefix)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0, plen = (int)strlen(prefix) + (neg ? 1 : 0);

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	int zeros = sp->prec > n ? sp->prec - n : 0;
	int total = plen + zeros + n;

	if (sp->zero && !sp->left && sp->prec < 0 && sp->width > total)
		zeros += sp->width - total, total = sp->width;
	if (!sp->left)
		out_pad(o, ' ', sp->width - total);
	if (neg)
		out_char(o, '-');
	while (*prefix)
		out_char(o, *prefix++);
	out_pad(o, '0', zeros);
	while (n)
		out_char(o, tmp[--n]);
	if (sp->left)
		out_pad(o, ' ', sp->width - total);
}

static const char *parse_spec(const char *f, struct spec *sp, va_list *ap)
{
	*sp = (struct spec){.prec = -1};
	for (;; f++) {
		if (*f == '-')
			sp->left = true;
		else if (*f == '0')
			sp->zero = true;
		else if (*f != ' ' && *f != '+' && *f != '#')
			break;
	}
	if (*f == '*') {
		sp->width = va_arg(*ap, int);
		if (sp->width < 0)
			sp->left = true, sp->width = -sp->width;
		f++;
	}
	while (*f >= '0' && *f <= '9')
		sp->width = sp->width * 10 + (*f++ - '0');
	if (*f == '.') {
		f++;
		sp->prec = 0;
		if (*f == '*') {
			sp->prec = va_arg(*ap, int);
			f++;
		}
		while (*f >= '0' && *f <= '9')
			sp->prec = sp->prec * 10 + (*f++ - '0');
	}
	return f;
}

/* Read an integer argument of the given length (0 int, 1 long, 2 long
 * long, 3 size_t) as signed or unsigned. */
static uint64_t arg_int(va_list *ap, int len, bool is_signed)
{
	if (is_signed) {
		switch (len) {
		case 0:
			return (uint64_t)(int64_t)va_arg(*ap, int);
		case 1:
			return (uint64_t)(int64_t)va_arg(*ap, long);
		case 2:
			return (uint64_t)(int64_t)va_arg(*ap, long long);
		default:
			return (uint64_t)(int64_t)va_arg(*ap, long); /* ssize_t */
		}
	}
	switch (len) {
	case 0:
		return va_arg(*ap, unsigned);
	case 1:
		return va_arg(*ap, unsigned long);
	case 2:
		return va_arg(*ap, unsigned long long);
	default:
		return va_arg(*ap, size_t);
	}
}

static void convert(struct out *o, char c, const struct spec *sp, int len, va_list *ap)
{
	uint64_t v;

	switch (c) {
	case 'd':
	case 'i':
		v = arg_int(ap, len, true);
		if ((int64_t)v < 0)
			out_num(o, sp, -v, 10, false, true, "");
		else
			out_num(o, sp, v, 10, false, false, "");
		break;
	case 'u':
		out_num(o, sp, arg_int(ap, len, false), 10, false, false, "");
		break;
	case 'x':
	case 'X':
		out_num(o, sp, arg_int(ap, len, false), 16, c == 'X', false, "");
		break;
	case 'p':
		out_num(o, sp, (uintptr_t)va_arg(*ap, void *), 16, false, false, "0x");
		break;
	case 's':
		out_str(o, sp, va_arg(*ap, const char *));
		break;
	case 'c': {
		char s[2] = {(char)va_arg(*ap, int), 0};
		struct spec one = *sp;

		one.prec = 1;
		out_str(o, &one, s);
		break;
	}
	case '%':
		out_char(o, '%');
		break;
	default: /* unknown conversion: print it verbatim */
		out_char(o, '%');
		out_char(o, c);
		break;
	}
}

int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
{
	struct out o = {buf, size, 0};
	va_list args;

	va_copy(args, ap);
	while (*fmt) {
		if (*fmt != '%') {
			out_char(&o, *fmt++);
			continue;
		}
		struct spec sp;
		int len = 0;

		fmt = parse_spec(fmt + 1, &sp, &args);
		if (*fmt == 'z')
			len = 3, fmt++;
		while (*fmt == 'l' && len < 2)
			len++, fmt++;
		if (!*fmt)
			break;
		convert(&o, *fmt++, &sp, len, &args);
	}
	va_end(args);
	if (size)
		buf[o.len < size ? o.len : size - 1] = 0;
	return (int)o.len;
}

int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
