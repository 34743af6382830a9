//+------------------------------------------------------------------+
//| Platform.mqh -- thin adapters over terminal services: wall clock |
//| in epoch ms, files under MQL4/Files, the session key, and        |
//| account/symbol/order reads.                                      |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_PLATFORM_MQH
#define COPYGATEWAY_PLATFORM_MQH

#include <CopyGateway/Core.mqh>

//--- OS random source: DLL build only (#define COPYGATE_WITH_DLL before the
//--- #include; called only when "Allow DLL imports" is on). The default build
//--- imports no DLL at all.
#ifdef COPYGATE_WITH_DLL
#import "advapi32.dll"
int SystemFunction036(uchar &buffer[],int length);   // RtlGenRandom
#import
#endif

//+------------------------------------------------------------------+
//| CClock: epoch milliseconds. TimeGMT() has 1 s resolution, so the |
//| clock is anchored on it and advanced with GetMicrosecondCount(); |
//| it re-anchors when the two drift apart by more than 2 s.         |
//+------------------------------------------------------------------+
class CClock
  {
private:
   long              m_base_ms;   // wall time at the anchor
   ulong             m_base_us;   // GetMicrosecondCount() at the anchor
   bool              m_anchored;  // anchor taken

public:
                     CClock(void) : m_base_ms(0),m_base_us(0),m_anchored(false) {}
   long              NowMs(void)
     {
      ulong us=GetMicrosecondCount();
      long wall=(long)TimeGMT()*1000;
      if(!m_anchored)
        {
         m_base_ms=wall;
         m_base_us=us;
         m_anchored=true;
        }
      long estimate=m_base_ms+(long)((us-m_base_us)/1000);
      if(estimate<wall-2000 || estimate>wall+3000)
        {
         m_base_ms=wall;
         m_base_us=us;
         estimate=wall;
        }
      return(estimate);
     }
  };

//+------------------------------------------------------------------+
//| CFileStore: small UTF-8 text files in MQL4/Files/<folder>/,      |
//| written atomically (temp file + FileMove).                       |
//+------------------------------------------------------------------+
//+------------------------------------------------------------------+
//| CgAccountFolder: a folder name for an account id that Windows     |
//| accepts and that no other id maps to. Ids are 1-64 characters of  |
//| [A-Za-z0-9._:-]; Windows forbids ':' in a name, a trailing '.',   |
//| device names (CON, NUL, COM1...) and ignores letter case. An id  |
//| of only [a-z0-9-] that is no device name is used as it is (the    |
//| folder of earlier versions); any other id becomes "~" + the id   |
//| with each upper-case letter as '_' + its lower case, ':' as '~'  |
//| and '.' as '!' (reversible; plain ids never contain '~').        |
//+------------------------------------------------------------------+
bool CgIsDeviceName(const string name)
  {
   string devices="|con|prn|aux|nul|com1|com2|com3|com4|com5|com6|com7|com8|com9|lpt1|lpt2|lpt3|lpt4|lpt5|lpt6|lpt7|lpt8|lpt9|";
   return(StringFind(devices,"|"+name+"|")>=0);
  }
string CgAccountFolder(const string account_id)
  {
   bool plain=(StringLen(account_id)>0);
   string encoded="~";
   for(int i=0;i<StringLen(account_id);i++)
     {
      ushort c=StringGetCharacter(account_id,i);
      if((c>='a' && c<='z') || (c>='0' && c<='9') || c=='-')
         encoded+=ShortToString(c);
      else if(c>='A' && c<='Z')
        {
         plain=false;
         encoded+="_"+ShortToString((ushort)(c+32));
        }
      else if(c==':')
        {
         plain=false;
         encoded+="~";
        }
      else
        {
         plain=false;
         encoded+="!";
        }
     }
   if(plain && !CgIsDeviceName(account_id))
      return(account_id);
   return(encoded);
  }

class CFileStore
  {
private:
   string            m_dir;     // "CopyGateway\\<folder>\\"
   string            m_failure; // first file that could not be written ("" = none)

public:
   void              Init(const string folder)
     {
      m_dir=folder+"\\";
      m_failure="";
      FolderCreate(folder);
     }
   //--- a state file could not be written: the EA must not trade on
   string            Failure(void) const { return(m_failure); }
   string            Path(const string name) const { return(m_dir+name); }
   bool              Exists(const string name) const { return(FileIsExist(m_dir+name)); }
   bool              Read(const string name,string &text) const
     {
      text="";
      if(!FileIsExist(m_dir+name))
         return(false);
      int h=FileOpen(m_dir+name,FILE_READ|FILE_BIN|FILE_SHARE_READ);
      if(h==INVALID_HANDLE)
         return(false);
      uchar bytes[];
      int size=(int)FileSize(h);
      if(size>0)
         FileReadArray(h,bytes,0,size);
      FileClose(h);
      text=CharArrayToString(bytes,0,WHOLE_ARRAY,CP_UTF8);
      return(true);
     }
   bool              Write(const string name,const string text)
     {
      string tmp=m_dir+name+".tmp";
      int h=FileOpen(tmp,FILE_WRITE|FILE_BIN);
      if(h==INVALID_HANDLE)
         return(Failed(tmp));
      uchar bytes[];
      int n=StringToCharArray(text,bytes,0,WHOLE_ARRAY,CP_UTF8);
      if(n>0)
         ArrayResize(bytes,n-1);  // no terminating zero in the file
      uint written=FileWriteArray(h,bytes,0,ArraySize(bytes));
      FileClose(h);
      if((int)written!=ArraySize(bytes))
         return(Failed(tmp));
      if(!FileMove(tmp,0,m_dir+name,FILE_REWRITE))
         return(Failed(m_dir+name));
      return(true);
     }
   bool              Failed(const string path)
     {
      int error=GetLastError();
      Print("CopyGateway: cannot write ",path,", error ",error);
      if(m_failure=="")
         m_failure=path+" (error "+IntegerToString(error)+")";
      return(false);
     }
  };

//--- lower-case hex of bytes
string CgHex(const uchar &bytes[])
  {
   string hex="0123456789abcdef";
   string out="";
   for(int i=0;i<ArraySize(bytes);i++)
      out+=StringSubstr(hex,bytes[i]>>4,1)+StringSubstr(hex,bytes[i]&15,1);
   return(out);
  }

//--- The command tag in a copied order's comment: 10 hex digits of
//--- SHA-256(command_id). Unique per command (not per master ticket, which
//--- several masters can share); 40 bits keep collisions among one
//--- account's orders negligible. Comments hold 31 characters.
string CgCommandTag(const string command_id)
  {
   uchar text[],digest[],none[];
   int n=StringToCharArray(command_id,text,0,WHOLE_ARRAY,CP_UTF8);
   ArrayResize(text,(n>0 ? n-1 : 0));  // hash the UTF-8 bytes, not the terminating zero
   CryptEncode(CRYPT_HASH_SHA256,text,none,digest);
   ArrayResize(digest,5);
   return(CgHex(digest));
  }

//+------------------------------------------------------------------+
//| CKeyStore: the account session key.                              |
//|                                                                  |
//| A pre-shared key (input) always wins. Otherwise the key generated |
//| at first launch is kept in MQL4/Files/<folder>/session.key.      |
//| MQL4 has no CSPRNG: the generator hashes (SHA-256, CryptEncode)  |
//| many weak sources -- microsecond timer jitter over 256 rounds,   |
//| local/GMT/server times, account number, company, balance and    |
//| equity, terminal memory, current quotes, MathRand seeded from    |
//| GetMicrosecondCount -- and, in the DLL build with DLL imports    |
//| allowed, 32 bytes from Windows RtlGenRandom. Without the DLL the |
//| effective entropy is hard to bound (timer jitter dominates; the  |
//| rest is guessable by someone who knows the machine): the         |
//| back-office approval of pending keys is what actually gates      |
//| access, and a pre-shared key generated elsewhere avoids the     |
//| question entirely.                                               |
//+------------------------------------------------------------------+
class CKeyStore
  {
private:
   uchar             m_pool[];   // running SHA-256 state of the entropy pool

   void              Mix(const string sample)
     {
      uchar data[],digest[],none[];
      StringToCharArray(sample,data,0,WHOLE_ARRAY,CP_UTF8);
      int n=ArraySize(m_pool);
      int m=ArraySize(data);
      ArrayResize(data,m+n);
      for(int i=0;i<n;i++)
         data[m+i]=m_pool[i];
      if(CryptEncode(CRYPT_HASH_SHA256,data,none,digest)==32)
         ArrayCopy(m_pool,digest);
     }

public:
   string            Generate(const bool allow_dll)
     {
      ArrayResize(m_pool,0);
      MathSrand((int)(GetTickCount()^(uint)GetMicrosecondCount()));
      Mix(IntegerToString(AccountNumber())+"|"+AccountCompany()+"|"+IntegerToString((long)TimeLocal())+"|"+
          IntegerToString((long)TimeGMT())+"|"+IntegerToString((long)TimeCurrent())+"|"+
          IntegerToString(TerminalInfoInteger(TERMINAL_MEMORY_USED))+"|"+IntegerToString(TerminalInfoInteger(TERMINAL_BUILD))+"|"+
          DoubleToString(AccountBalance(),2)+"|"+DoubleToString(AccountEquity(),2));
      int quoted=(int)MathMin(SymbolsTotal(true),16);
      for(int i=0;i<quoted;i++)
        {
         string symbol=SymbolName(i,true);
         Mix(symbol+"|"+DoubleToString(MarketInfo(symbol,MODE_BID),8)+"|"+DoubleToString(MarketInfo(symbol,MODE_ASK),8)+"|"+
             IntegerToString((long)GetMicrosecondCount()));
        }
      for(int round=0;round<256;round++)
        {
         ulong t0=GetMicrosecondCount();
         int spin=0;
         for(int k=0;k<200+(MathRand()&255);k++)
            spin+=k*round;
         ulong t1=GetMicrosecondCount();
         Mix(IntegerToString((long)t0)+":"+IntegerToString((long)(t1-t0))+":"+IntegerToString(spin)+":"+
             IntegerToString(MathRand())+":"+IntegerToString(GetTickCount()));
        }
#ifdef COPYGATE_WITH_DLL
      if(allow_dll && IsDllsAllowed())
        {
         uchar os_random[];
         ArrayResize(os_random,32);
         if((SystemFunction036(os_random,32)&0xFF)!=0)  // BOOLEAN: only the low byte counts
            Mix(CgHex(os_random));
        }
#endif
      Mix("copygate-session-key-v1");
      return(CgHex(m_pool));
     }
   //--- The key to use; `generated` tells whether a new one was just created.
   string            LoadOrCreate(CFileStore &store,const string preshared,const bool allow_dll,bool &generated)
     {
      generated=false;
      if(preshared!="")
         return(preshared);
      string key;
      if(store.Read("session.key",key))
        {
         StringReplace(key,"\n","");
         StringReplace(key,"\r","");
         StringReplace(key," ","");
         if(StringLen(key)>=32)
            return(key);
        }
      key=Generate(allow_dll);
      if(!store.Write("session.key",key))
         Print("CopyGateway: WARNING the session key could not be saved; a new one will be generated next time");
      generated=true;
      return(key);
     }
  };

//+------------------------------------------------------------------+
//| Terminal reads                                                   |
//+------------------------------------------------------------------+
void CgReadAccount(SAccountInfo &a)
  {
   a.balance=AccountBalance();
   a.equity=AccountEquity();
   a.margin_level=AccountInfoDouble(ACCOUNT_MARGIN_LEVEL);
   a.currency=AccountCurrency();
   a.leverage=AccountLeverage();
  }

//--- At most this many SymbolSpecs go into one InitRequest (~200 bytes each), so the
//--- message stays far under the gateway's 64 KiB limit with 1,000 symbols in Market Watch.
#define CG_MAX_INIT_SYMBOLS 150

//--- Append the spec of `s` unless it is listed already, not allowed or not tradable.
void CgAddSymbolSpec(SSymbolSpec &out[],const string s,const CSafetyPolicy &safety)
  {
   if(ArraySize(out)>=CG_MAX_INIT_SYMBOLS || s=="" || !safety.SymbolAllowed(s))
      return;
   for(int i=0;i<ArraySize(out);i++)
      if(out[i].symbol==s)
         return;
   SymbolSelect(s,true);
   double point=MarketInfo(s,MODE_POINT);
   double step=MarketInfo(s,MODE_LOTSTEP);
   double min_lot=MarketInfo(s,MODE_MINLOT);
   double max_lot=MarketInfo(s,MODE_MAXLOT);
   double contract=MarketInfo(s,MODE_LOTSIZE);
   if(point<=0 || step<=0 || min_lot<=0 || max_lot<=0 || contract<=0)
      return;
   int n=ArraySize(out);
   ArrayResize(out,n+1,64);
   out[n].symbol=s;
   out[n].digits=(int)MarketInfo(s,MODE_DIGITS);
   out[n].point=point;
   out[n].contract_size=contract;
   out[n].lot_step=step;
   out[n].min_lot=min_lot;
   out[n].max_lot=max_lot;
   out[n].tick_value=MathMax(MarketInfo(s,MODE_TICKVALUE),0.0);
   out[n].tick_size=MathMax(MarketInfo(s,MODE_TICKSIZE),0.0);
  }

//--- The symbols that matter, for InitRequest: the chart's, those of open orders,
//--- then Market Watch, allowed ones only, capped at CG_MAX_INIT_SYMBOLS.
int CgReadSymbols(SSymbolSpec &out[],const CSafetyPolicy &safety)
  {
   ArrayResize(out,0);
   CgAddSymbolSpec(out,Symbol(),safety);
   for(int i=OrdersTotal()-1;i>=0;i--)
      if(OrderSelect(i,SELECT_BY_POS,MODE_TRADES))
         CgAddSymbolSpec(out,OrderSymbol(),safety);
   int total=SymbolsTotal(true);
   for(int i=0;i<total && ArraySize(out)<CG_MAX_INIT_SYMBOLS;i++)
      CgAddSymbolSpec(out,SymbolName(i,true),safety);
   return(ArraySize(out));
  }

//--- Copy the selected order into a row.
void CgRowFromSelected(SOrderRow &r)
  {
   r.ticket=OrderTicket();
   r.symbol=OrderSymbol();
   r.type=OrderType();
   r.lots=OrderLots();
   r.open_price=OrderOpenPrice();
   r.sl=OrderStopLoss();
   r.tp=OrderTakeProfit();
   r.magic=OrderMagicNumber();
   r.comment=OrderComment();
   r.open_time=OrderOpenTime();
  }

//--- Open positions and pending orders; magic_filter -1 = all.
int CgReadRows(SOrderRow &rows[],const int magic_filter,const CSafetyPolicy &safety)
  {
   ArrayResize(rows,0);
   int total=OrdersTotal();
   for(int i=0;i<total;i++)
     {
      if(!OrderSelect(i,SELECT_BY_POS,MODE_TRADES))
         continue;
      if(OrderType()>OP_SELLSTOP)
         continue;
      if(magic_filter>=0 && OrderMagicNumber()!=magic_filter)
         continue;
      if(!safety.SymbolAllowed(OrderSymbol()))
         continue;
      int n=ArraySize(rows);
      ArrayResize(rows,n+1,64);
      CgRowFromSelected(rows[n]);
     }
   return(ArraySize(rows));
  }

int CgCountOrders(const int magic)
  {
   int count=0;
   for(int i=OrdersTotal()-1;i>=0;i--)
      if(OrderSelect(i,SELECT_BY_POS,MODE_TRADES) && OrderMagicNumber()==magic)
         count++;
   return(count);
  }

#endif
