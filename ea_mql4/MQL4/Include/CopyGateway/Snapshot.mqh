//+------------------------------------------------------------------+
//| Snapshot.mqh -- master trade detection. MT4 has no trade event:  |
//| the EA polls the order list and diffs two snapshots. This file   |
//| is the pure diff (plus JSON persistence of a snapshot).          |
//|                                                                  |
//|  new ticket, market           -> open                            |
//|  new ticket, pending          -> place_pending                   |
//|  pending became market        -> open (from_pending=true)        |
//|  sl/tp (or pending price) moved -> modify                        |
//|  ticket gone, successor found -> close (volume = closed part,    |
//|                                  new_ticket = successor)         |
//|  market ticket gone           -> close (full)                    |
//|  pending ticket gone          -> cancel_pending                  |
//|                                                                  |
//| A partial close in MT4 closes the ticket and opens a successor   |
//| with comment "from #<old>". Brokers may rewrite comments, so the |
//| successor is also recognised by symbol, type, magic, open time   |
//| and open price. Close prices are filled in by the caller (from   |
//| the history pool); the diff leaves price 0 for closes.           |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_SNAPSHOT_MQH
#define COPYGATEWAY_SNAPSHOT_MQH

#include <CopyGateway/JsonWriter.mqh>
#include <CopyGateway/JsonDoc.mqh>
#include <CopyGateway/Messages.mqh>
#include <CopyGateway/TradeMath.mqh>

int CgFindRow(const SOrderRow &rows[],const int ticket)
  {
   for(int i=0;i<ArraySize(rows);i++)
      if(rows[i].ticket==ticket)
         return(i);
   return(-1);
  }

//--- "from #123" (exactly that ticket), as MT4 writes it on the remainder.
bool CgCommentSaysFrom(const string comment,const int ticket)
  {
   string tag="from #"+IntegerToString(ticket);
   int p=StringFind(comment,tag);
   if(p<0)
      return(false);
   ushort after=StringGetCharacter(comment,p+StringLen(tag));
   return(after<'0' || after>'9');
  }

//--- Index in `now_rows` of the remainder of partially closed `old`, or -1.
int CgFindSuccessor(const SOrderRow &old,const SOrderRow &old_rows[],const SOrderRow &now_rows[])
  {
   int fallback=-1;
   for(int i=0;i<ArraySize(now_rows);i++)
     {
      if(CgFindRow(old_rows,now_rows[i].ticket)>=0)
         continue;  // not a new ticket
      if(now_rows[i].symbol!=old.symbol || now_rows[i].type!=old.type)
         continue;
      if(CgCommentSaysFrom(now_rows[i].comment,old.ticket))
         return(i);
      if(fallback<0 && now_rows[i].magic==old.magic && now_rows[i].open_time==old.open_time &&
         !CgPriceChanged(now_rows[i].open_price,old.open_price,1e-8) &&
         now_rows[i].lots<old.lots-1e-9)
         fallback=i;
     }
   return(fallback);
  }

void CgIntentFromRow(const SOrderRow &r,const string action,SOrderIntent &p)
  {
   CgResetIntent(p);
   p.action=action;
   p.ticket=r.ticket;
   p.symbol=r.symbol;
   p.side=CgSideOf(r.type);
   p.order_type=CgOrderTypeOf(r.type);
   p.volume=r.lots;
   p.price=r.open_price;
   p.sl=r.sl;
   p.tp=r.tp;
   p.magic=r.magic;
   p.has_magic=true;
   p.comment=StringSubstr(r.comment,0,64);
  }

void CgAppendIntent(SOrderIntent &out[],const SOrderIntent &p)
  {
   int n=ArraySize(out);
   ArrayResize(out,n+1,16);
   out[n]=p;
  }

//--- Intents that turn `before` into `after`, appended to `out`; returns the count.
int CgDiffSnapshots(const SOrderRow &before[],const SOrderRow &after[],SOrderIntent &out[])
  {
   int added=0;
   int successors[];
   //--- 1. tickets that disappeared: closes, partial closes, cancels
   for(int i=0;i<ArraySize(before);i++)
     {
      if(CgFindRow(after,before[i].ticket)>=0)
         continue;
      SOrderIntent p;
      if(CgIsPending(before[i].type))
        {
         CgIntentFromRow(before[i],"cancel_pending",p);
        }
      else
        {
         CgIntentFromRow(before[i],"close",p);
         p.price=0;  // filled from the history pool by the caller
         int s=CgFindSuccessor(before[i],before,after);
         if(s>=0)
           {
            p.volume=NormalizeDouble(before[i].lots-after[s].lots,8);
            p.new_ticket=after[s].ticket;
            int k=ArraySize(successors);
            ArrayResize(successors,k+1);
            successors[k]=after[s].ticket;
           }
        }
      CgAppendIntent(out,p);
      added++;
     }
   //--- 2. tickets in both: pending fills and SL/TP/price modifications
   for(int i=0;i<ArraySize(after);i++)
     {
      int j=CgFindRow(before,after[i].ticket);
      if(j<0)
         continue;
      SOrderIntent p;
      if(CgIsPending(before[j].type) && !CgIsPending(after[i].type))
        {
         CgIntentFromRow(after[i],"open",p);
         p.from_pending=true;
         CgAppendIntent(out,p);
         added++;
         continue;
        }
      bool moved=CgPriceChanged(after[i].sl,before[j].sl,1e-8) || CgPriceChanged(after[i].tp,before[j].tp,1e-8);
      if(CgIsPending(after[i].type) && CgPriceChanged(after[i].open_price,before[j].open_price,1e-8))
         moved=true;
      if(moved)
        {
         CgIntentFromRow(after[i],"modify",p);
         CgAppendIntent(out,p);
         added++;
        }
     }
   //--- 3. new tickets that are not remainders of partial closes
   for(int i=0;i<ArraySize(after);i++)
     {
      if(CgFindRow(before,after[i].ticket)>=0)
         continue;
      bool successor=false;
      for(int k=0;k<ArraySize(successors);k++)
         if(successors[k]==after[i].ticket)
            successor=true;
      if(successor)
         continue;
      SOrderIntent p;
      CgIntentFromRow(after[i],CgIsPending(after[i].type) ? "place_pending" : "open",p);
      CgAppendIntent(out,p);
      added++;
     }
   return(added);
  }

//--- Snapshot persistence (the master's last delivered view).
string CgSerializeRows(const SOrderRow &rows[])
  {
   CJsonWriter w;
   w.BeginObject();
   w.KeyInt("v",1);
   w.Key("rows");
   w.BeginArray();
   for(int i=0;i<ArraySize(rows);i++)
     {
      w.BeginObject();
      w.KeyInt("t",rows[i].ticket);
      w.KeyStr("s",rows[i].symbol);
      w.KeyInt("y",rows[i].type);
      w.KeyNum("l",rows[i].lots,8);
      w.KeyNum("p",rows[i].open_price,8);
      w.KeyNum("sl",rows[i].sl,8);
      w.KeyNum("tp",rows[i].tp,8);
      w.KeyInt("m",rows[i].magic);
      w.KeyStr("c",rows[i].comment);
      w.KeyInt("o",(long)rows[i].open_time);
      w.EndObject();
     }
   w.EndArray();
   w.EndObject();
   return(w.Text());
  }

bool CgLoadRows(const string text,SOrderRow &rows[])
  {
   ArrayResize(rows,0);
   CJsonDoc doc;
   if(!doc.Parse(text))
      return(false);
   int list=doc.Find(doc.Root(),"rows");
   if(doc.Kind(list)!=JSON_ARRAY)
      return(false);
   for(int e=doc.First(list);e>=0;e=doc.Next(e))
     {
      long t=0,y=0,m=0,o=0;
      int n=ArraySize(rows);
      ArrayResize(rows,n+1,32);
      doc.GetLong(e,"t",t);
      doc.GetLong(e,"y",y);
      doc.GetLong(e,"m",m);
      doc.GetLong(e,"o",o);
      rows[n].ticket=(int)t;
      rows[n].type=(int)y;
      rows[n].magic=(int)m;
      rows[n].open_time=(datetime)o;
      rows[n].symbol="";
      rows[n].comment="";
      rows[n].lots=0;
      rows[n].open_price=0;
      rows[n].sl=0;
      rows[n].tp=0;
      doc.GetString(e,"s",rows[n].symbol);
      doc.GetString(e,"c",rows[n].comment);
      doc.GetNumber(e,"l",rows[n].lots);
      doc.GetNumber(e,"p",rows[n].open_price);
      doc.GetNumber(e,"sl",rows[n].sl);
      doc.GetNumber(e,"tp",rows[n].tp);
     }
   return(true);
  }

#endif
