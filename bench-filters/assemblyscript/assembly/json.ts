// A JSON reader for exactly the `headers` configuration's shape (AssemblyScript 0.14 has no
// JSON in its standard library).

/** Header edits of one direction; `add` and `replace` hold key, value, key, value, … */
export class Edits {
  add: Array<string> = [];
  replace: Array<string> = [];
  remove: Array<string> = [];
}

class Reader {
  pos: i32 = 0;
  constructor(public text: string) {}

  ws(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.pos++;
    }
  }

  eat(c: i32): bool {
    this.ws();
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == c) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** A string, or null if there is none here or it is malformed. */
  string(): string | null {
    if (!this.eat(0x22)) return null;
    let out = "";
    while (this.pos < this.text.length) {
      let c = this.text.charCodeAt(this.pos++);
      if (c == 0x22) return out;
      if (c == 0x5c) {
        if (this.pos >= this.text.length) return null;
        const e = this.text.charCodeAt(this.pos++);
        if (e == 0x6e) c = 0x0a;
        else if (e == 0x74) c = 0x09;
        else if (e == 0x72) c = 0x0d;
        else if (e == 0x62) c = 0x08;
        else if (e == 0x66) c = 0x0c;
        else if (e == 0x22 || e == 0x5c || e == 0x2f) c = e;
        else if (e == 0x75) {
          if (this.pos + 4 > this.text.length) return null;
          const v = I32.parseInt(this.text.substr(this.pos, 4), 16);
          if (isNaN(v)) return null;
          c = <i32>v;
          this.pos += 4;
        } else return null;
      }
      out += String.fromCharCode(c);
    }
    return null;
  }

  /** [[key, value], ...] appended to `out` as key, value, … */
  pairs(out: Array<string>): bool {
    if (!this.eat(0x5b)) return false;
    if (this.eat(0x5d)) return true;
    do {
      if (!this.eat(0x5b)) return false;
      const key = this.string();
      if (key === null || !this.eat(0x2c)) return false;
      const value = this.string();
      if (value === null || !this.eat(0x5d)) return false;
      out.push(key);
      out.push(value);
    } while (this.eat(0x2c));
    return this.eat(0x5d);
  }

  /** [name, ...] */
  names(out: Array<string>): bool {
    if (!this.eat(0x5b)) return false;
    if (this.eat(0x5d)) return true;
    do {
      const name = this.string();
      if (name === null) return false;
      out.push(name);
    } while (this.eat(0x2c));
    return this.eat(0x5d);
  }

  edits(e: Edits): bool {
    if (!this.eat(0x7b)) return false;
    if (this.eat(0x7d)) return true;
    do {
      const key = this.string();
      if (key === null || !this.eat(0x3a)) return false;
      let ok = false;
      if (key == "add") ok = this.pairs(e.add);
      else if (key == "replace") ok = this.pairs(e.replace);
      else if (key == "remove") ok = this.names(e.remove);
      if (!ok) return false;
    } while (this.eat(0x2c));
    return this.eat(0x7d);
  }
}

/** Parses `text` into the request and response edits; false if it is not a valid configuration. */
export function parseConfig(text: string, request: Edits, response: Edits): bool {
  const r = new Reader(text);
  if (!r.eat(0x7b)) return false;
  if (!r.eat(0x7d)) {
    do {
      const key = r.string();
      if (key === null || !r.eat(0x3a)) return false;
      let ok = false;
      if (key == "request") ok = r.edits(request);
      else if (key == "response") ok = r.edits(response);
      if (!ok) return false;
    } while (r.eat(0x2c));
    if (!r.eat(0x7d)) return false;
  }
  r.ws();
  return r.pos == r.text.length;
}
