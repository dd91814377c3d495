/** Source address lists (IPv4 and IPv6, single addresses and CIDR blocks) on node:net's BlockList. */
import net from 'node:net';

export class AddressList {
  private readonly list = new net.BlockList();

  constructor(entries: string[]) {
    for (const entry of entries) {
      const [address, prefix] = entry.split('/');
      const family = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.list.addAddress(address, family);
      else this.list.addSubnet(address, Number(prefix), family);
    }
  }

  allows(address: string): boolean {
    const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
    const family = net.isIP(plain) === 6 ? 'ipv6' : 'ipv4';
    return net.isIP(plain) !== 0 && this.list.check(plain, family);
  }
}
